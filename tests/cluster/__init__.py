"""Local Kubernetes control plane for tests: build script, launcher, fixtures."""
