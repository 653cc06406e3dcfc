"""Configuration the assets, sensor and checks receive as Dagster resources."""

from dagster import ConfigurableResource

from pipeline_project.settings import env_float, env_int, env_str
from pipeline_project.storage import Storage, open_storage


class LakeResource(ConfigurableResource):
    """Where raw data, reports and the quarantine live."""

    storage_url: str
    max_file_bytes: int

    def storage(self) -> Storage:
        return open_storage(self.storage_url)


class QualityResource(ConfigurableResource):
    """Thresholds for the report's asset checks."""

    rejection_rate_warn: float


class ArrivalResource(ConfigurableResource):
    """How the sensor decides which days to look at and when a day is complete."""

    lookback_days: int
    quiet_seconds: int


def resources_from_env() -> dict:
    return {
        "lake": LakeResource(
            storage_url=env_str("PIPELINE_STORAGE_URL"),
            max_file_bytes=env_int("PIPELINE_MAX_FILE_BYTES"),
        ),
        "quality": QualityResource(rejection_rate_warn=env_float("PIPELINE_REJECTION_RATE_WARN")),
        "arrival": ArrivalResource(
            lookback_days=env_int("PIPELINE_SENSOR_LOOKBACK_DAYS"),
            quiet_seconds=env_int("PIPELINE_SENSOR_QUIET_SECONDS"),
        ),
    }
