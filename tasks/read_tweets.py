"""Step: read and check the raw tweets before any model is loaded."""

from __future__ import annotations

import logging
from pathlib import Path

from nerflow.orchestration.caching import uncached_task
from nerflow.tagging.tweets import TweetInput, check_output, read_input

logger = logging.getLogger(__name__)


def read_tweets(input_path: Path, output: Path) -> TweetInput:
    """The input's files, tweet count and digest; an unreadable line, or an output that would
    overwrite or join the input, stops the run here naming its file and line."""
    check_output(input_path, output)
    tweets, _ = read_input(input_path)
    logger.info(
        "%s: %d tweets in %d file(s), digest %s", input_path, tweets.tweets, len(tweets.files),
        tweets.digest[:12],
    )  # fmt: skip
    return tweets


read_tweets_task = uncached_task(read_tweets, name="read-tweets")
