from pydantic import Field

from shared.config import Settings


class DashboardSettings(Settings):
    """The dashboard's settings: the base ones plus its projections' and exports' limits."""

    projection_batch_size: int = Field(1000, description="Events a projection applies per transaction")
    rebuild_batch_size: int = Field(5000, description="Events per transaction while a projection is rebuilt")
    projection_lag_alert: int = Field(
        1000, description="/healthz reports a projection degraded when it is this many events behind the store"
    )
    register_page_size: int = Field(50, description="Rows per page of GET /v1/register?format=json by default")
    register_max_page_size: int = Field(500, description="Largest page_size accepted")
    export_max_rows: int = Field(50_000, description="Most rows of one CSV or XLSX export (ask for a shorter period)")
    overdue_max_limit: int = Field(1000, description="Largest limit of GET /v1/dashboard/overdue")
    sse_max_streams_per_user: int = Field(
        10, description="Open event streams (SSE) one user may hold per process; then 429"
    )
    sse_max_streams_per_process: int = Field(500, description="Open event streams (SSE) one process serves; then 503")
    # the public statistics (GET /v1/public/statistics; ADR 0022)
    statistics_threshold: int = Field(
        5, ge=3, description="Public statistics: a count below this, or a figure computed over fewer, is withheld"
    )
    statistics_max_months: int = Field(36, ge=1, description="Public statistics: the longest period one request asks")
    rate_limit_statistics: str = Field(
        "60/minute;600/hour", description="Public statistics: requests per client address before 429"
    )
    statistics_max_age: int = Field(300, ge=0, description="Public statistics: seconds a client or proxy may keep one")
