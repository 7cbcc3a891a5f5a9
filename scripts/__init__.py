"""Developer and operations tooling: `make run`, `make test`, `make bench` and the Docker health check."""
