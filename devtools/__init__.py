"""Development tooling: reading template.yaml, the Docker-free local stack, benchmarks. Not deployed."""
