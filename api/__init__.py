"""HTTP only. Routers carry the full path so logs and telemetry name the route template."""

PREFIX = "/api"
