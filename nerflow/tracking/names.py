"""Every name nerflow writes to MLflow: tags, params, metrics, aliases and artifact paths."""
# MLflow's own tags come from `mlflow.utils.mlflow_tags` where they are used (importing mlflow
# here would slow every import of this module); the UI's two it has no constant for are here.

# Run tags; MODEL_KEY_TAG (the trained model folder's fingerprint) and DATA_TAG are on versions too
MODEL_KEY_TAG = "nerflow.model_key"
DATA_TAG = "nerflow.data_fingerprint"
OWNER_TAG = "nerflow.owner"  # `host pid start-time` of the process logging the run
ENDED_BY_TAG = "nerflow.ended_by"
BASE_MODEL_TAG = "nerflow.base_model"
DEVICE_TAG = "nerflow.device"
GIT_DIRTY_TAG = "nerflow.git_dirty"
CHAMPION_JUDGED_TAG = "nerflow.champion_judged"
DECISION_TAG = "nerflow.promotion"  # the gate's decision, on the version and its run
SYSTEM_TAG_PREFIX = "system."
FLOW_RUN_TAG = "prefect.flow_run_id"
FLOW_RUN_URL_TAG = "prefect.flow_run_url"
KIND_TAG = "nerflow.kind"  # `evaluation`, `tagging`, ...: runs that are not trainings
LABEL_ISSUES_KIND = "label-issues"  # a k-fold ranking of likely label errors (cleanlab)
INGEST_KIND = "ingest"  # the champion's ranking of an ingested file's labels
MODEL_VERSION_TAG = "nerflow.model_version"
REGISTERED_MODEL_TAG = "nerflow.registered_model"
JOB_TAG = "nerflow.tagging_job"
STUDY_TAG = "nerflow.study"
TRIAL_TAG = "nerflow.trial"  # "study" on a study's parent run, else the trial's number
TRIAL_STATE_TAG = "trial_state"
BEST_TRIAL_TAG = "best_trial"
BEST_PARAM_TAG_PREFIX = "best."
BEST_VERSION_TAG = "best_version"
BEST_VERSION_DECISION_TAG = "best_version_decision"

# Experiment tags MLflow's UI reads; without the kind, MLflow 3 opens its GenAI view
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
SHARED_VIEW_TAG_PREFIX = "mlflow.sharedViewState."

# Registered model versions: aliases and tags
CHAMPION = "champion"
PREVIOUS = "previous-champion"
CHALLENGER = "challenger"
EVAL_DATA_TAG = "nerflow.eval_data"  # the fingerprint of the splits its scores came from
HISTORY_TAG = "nerflow.alias_history"
READABLE_HISTORY_TAG = "alias_history"
STALENESS_TAG = "staleness"  # the champion's F1 on each new file this version trained with
VERSION_BASE_MODEL_TAG = "base_model"
VERSION_DATA_TAG = "data"
TRAIN_TWEETS_TAG = "train_tweets"

# Params besides the config's `section.field`
DATA_PARAM_PREFIX = "data."
TRAIN_PARAM_PREFIX = "train."

# Metrics (the F1s are version tags too)
VAL_PREFIX = "val_"
TEST_PREFIX = "test_"
VAL_F1 = f"{VAL_PREFIX}f1"
TEST_F1 = f"{TEST_PREFIX}f1"
CHAMPION_VAL_F1 = "champion_val_f1_same_data"
CHAMPION_TEST_F1 = "champion_test_f1_same_data"
CHAMPION_ON_NEW_PREFIX = "champion_f1_on_new/"
TRAIN_PREFIX = "train/"
VAL_BY_EPOCH_PREFIX = "val_by_epoch/"
SYSTEM_PREFIX = "system/"
PEAK_RSS = f"{TRAIN_PREFIX}peak_rss_mb"
#: Seconds per step. MLflow's UI orders chart groups by name: this sorts after the curves.
STAGE_TIMES_PREFIX = "walltime/"
BEST_VAL_F1 = f"best_{VAL_F1}"
TRIALS_PREFIX = "trials_"

# Artifacts
MANIFEST_ARTIFACT = "data/manifest.json"
#: The consistency report of the data's files (how each labels @-mentions, hashtags, URLs)
CONVENTIONS_ARTIFACT = "data/conventions.json"
CONVENTIONS_TABLE_ARTIFACT = "data/conventions.md"
FIGURES_DIR = "figures"
EVALUATION_DIR = "evaluation"
LABEL_ISSUES_DIR = "label_issues"


def champion_type_f1(kind: str) -> str:
    """The metric of the champion's F1 on entity type `kind` on this run's validation split."""
    return f"champion_val_{kind}_f1_same_data"
