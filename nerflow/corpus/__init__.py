"""Corpora: the CoNLL reader, the tag set, the BTC/CoNLL/hub sources, sub-word encoding."""
