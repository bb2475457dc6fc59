# ocr-crnn: `make help` lists the targets.  Setup once, then run or test:
#   make setup   # Debian packages (fonts, tesseract, chromium, containerd, buildah), .venv from uv.lock,
#                # test-cluster binaries, the real node's tools and images
#   make run     # serve the API and upload page on http://localhost:8080 with the shipped model
#   make test    # the whole test suite (what .ci/run runs)

# --- Python environments, installed by uv from uv.lock (nothing goes into the global interpreter) ---
# .venv: the project (server, operator, training with torch, dev tools); every target runs in it.
# .venv-bench: the server plus the benchmark peers (RapidOCR, Locust), kept out of .venv.
VENV := .venv
BENCH_VENV := .venv-bench
PYTHON := $(VENV)/bin/python
BENCH_PYTHON := $(BENCH_VENV)/bin/python
PROJECT_EXTRAS := server operator train dev
BENCH_EXTRAS := server operator bench dev
# uv from PATH, else a pinned, hash-checked uv bootstrapped into .uv/ (requirements/uv.txt).
UV_BOOTSTRAP := .uv/bin/uv
UV ?= $(or $(shell command -v uv 2>/dev/null),$(UV_BOOTSTRAP))
UV_DEP := $(filter $(UV_BOOTSTRAP),$(UV))
# uv verifies TLS with its own roots unless told to use the system's (needed behind TLS-inspecting proxies).
export UV_SYSTEM_CERTS ?= 1
# --locked: install exactly uv.lock, and fail if pyproject.toml changed without `make lock`.
UV_SYNC = $(UV) sync --locked

APT_PACKAGES := $(shell sed -e 's/\#.*//' requirements/apt.txt)
SERVER_IMAGE ?= ghcr.io/ocr-crnn/ocr-server:0.1.0
OPERATOR_IMAGE ?= ghcr.io/ocr-crnn/ocr-operator:0.1.0
HELM ?= .tools/bin/helm
KUBE_VERSION ?= $(shell sed -n 's/^KUBERNETES_VERSION=//p' tests/cluster/versions.env)
CONTAINER_ENGINE ?= docker
MODEL ?= crnn-en
VERSION ?= 1.6.0
# Language profile (training/profiles.py): follows MODEL unless given
PROFILE ?= $(if $(filter crnn-zh,$(MODEL)),zh,en)

.DEFAULT_GOAL := help
.PHONY: help setup setup-apt setup-python bench-setup lock run dev test test-fast lint format cluster-build cluster-up cluster-down \
        chart-sync chart-lint chart-test crd-gen images-local image-test operator worker train train-zh evaluate export bench bench-pages bench-columns bench-light bench-lines bench-zh bench-zh-pages bench-load bench-operator bench-attacks \
        bench-jobs bench-operator-chaos \
        images image-server image-operator clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-15s %s\n",$$1,$$2}'

setup: setup-apt setup-python cluster-build node-setup ## Install everything: apt packages, .venv from uv.lock (with torch), test-cluster binaries, real-node tools and images

setup-apt: ## Debian packages: fonts for training, tesseract (benchmark peer), chromium (page tests), containerd & buildah (real node)
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "apt: installing $$missing"; \
	    $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q --no-install-recommends $$missing; \
	  else echo "apt: all packages present"; fi; \
	else echo "setup-apt: no apt-get; install the packages in requirements/apt.txt yourself"; fi

setup-python: $(UV_DEP) ## .venv from uv.lock: server, operator, training (torch), dev extras; then uv pip check
	$(UV_SYNC) $(addprefix --extra ,$(PROJECT_EXTRAS))
	$(UV) pip check --python $(PYTHON)
	@touch $(VENV)/.synced

bench-setup: $(UV_DEP) ## .venv-bench from uv.lock: the server plus benchmark peers (RapidOCR, Locust), one OpenCV
	UV_PROJECT_ENVIRONMENT=$(BENCH_VENV) $(UV_SYNC) $(addprefix --extra ,$(BENCH_EXTRAS))
	@# rapidocr_onnxruntime asks for opencv-python; uv.lock drops it for the headless build the server uses,
	@# so `uv pip check` names that one requirement here: check what matters instead.
	$(BENCH_PYTHON) -c 'from importlib.metadata import distributions as ds; cv = sorted(d.metadata["Name"] for d in ds() if d.metadata["Name"].lower().startswith("opencv")); assert len(cv) == 1, cv; import cv2, rapidocr_onnxruntime, locust; print("bench env ok: one OpenCV,", cv[0], cv2.__version__)'
	@touch $(BENCH_VENV)/.synced

lock: $(UV_DEP) ## Re-resolve uv.lock after editing dependencies in pyproject.toml (then commit both)
	$(UV) lock

$(UV_BOOTSTRAP):
	python3 -m venv .uv
	.uv/bin/python -m pip install -q --require-hashes -r requirements/uv.txt

# Environments follow uv.lock: a target that needs one re-syncs it when the lock is newer.
$(VENV)/.synced: uv.lock pyproject.toml
	@$(MAKE) --no-print-directory setup-python

$(BENCH_VENV)/.synced: uv.lock pyproject.toml
	@$(MAKE) --no-print-directory bench-setup

# Every other target that runs $(PYTHON) needs .venv too.
format cluster-up cluster-down crd-gen chart-sync chart-lint chart-test operator worker train train-zh evaluate export bench-detect \
  bench-operator bench-attacks bench-jobs image-test node-images: $(VENV)/.synced

run: $(VENV)/.synced ## Serve the API and upload page on http://localhost:8080 (config: $OCR_CONFIG, OCR__SECTION__FIELD env overrides)
	$(VENV)/bin/ocr-crnn serve

dev: $(VENV)/.synced ## Flask development server with reload on http://localhost:5000
	$(PYTHON) -m flask --app ocr_server.wsgi run --debug

test: $(VENV)/.synced node-images-auto ## The whole test suite: unit, real gunicorn, headless Chromium, local Kubernetes, real node (what CI runs)
	$(PYTHON) -m pytest -q

test-fast: $(VENV)/.synced ## Unit tests only (no cluster, no browser, no torch)
	$(PYTHON) -m pytest -q -m "not k8s and not browser and not model and not slow"

lint: $(VENV)/.synced ## ruff lint + format check
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check ocr_server training tests/recognition tests/training

format: ## Apply ruff fixes and formatting
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format ocr_server training tests/recognition tests/training

cluster-build: ## Build the pinned test-cluster tools into .tools/bin (Go >= 1.26; ~20 min cold, instant when current)
	tests/cluster/build.sh

cluster-up: cluster-build ## Start a local cluster in the background (kubeconfig: .tools/cluster/kubeconfig)
	$(PYTHON) -m tests.cluster.launcher up

cluster-down: ## Stop the background cluster
	$(PYTHON) -m tests.cluster.launcher down

crd-gen: ## Regenerate the CRD's schema parts from the server config schema, then sync the chart copy
	$(PYTHON) operator/hack/gen_crd.py
	$(MAKE) chart-sync

chart-sync: ## Copy crds/*.yaml into the chart (a test fails when they differ)
	$(PYTHON) charts/sync_crds.py

chart-lint: ## helm lint + template the chart for its defaults and every tests/chart/values file; check the CRD copy
	$(PYTHON) charts/sync_crds.py --check
	$(HELM) lint --strict --kube-version $(KUBE_VERSION) charts/ocr-crnn
	@for f in tests/chart/values/*.yaml; do \
	  echo "== $$f"; \
	  $(HELM) lint --strict --quiet --kube-version $(KUBE_VERSION) charts/ocr-crnn -f $$f && \
	  $(HELM) template ocr charts/ocr-crnn --kube-version $(KUBE_VERSION) -f $$f >/dev/null || exit 1; \
	done

chart-test: ## Chart tests: offline, and against the local cluster
	$(PYTHON) -m pytest tests/chart

worker: ## A batch-job worker (Celery, same config as the server: $OCR_CONFIG with jobs.enabled, a Redis in jobs.redisUrl)
	$(VENV)/bin/ocr-worker

operator: ## Run the operator against $KUBECONFIG (cluster-wide; WATCH_NAMESPACES=a,b to narrow)
	cd operator && $(PYTHON) -m ocr_operator

TRAIN_PHASE_STEPS ?= 10000
train: ## Resume runs/crnn, or start a new phase (warm-up + cosine of TRAIN_PHASE_STEPS) from the committed resume checkpoint
	$(PYTHON) -m training.train --run runs/crnn --init models/resume/crnn-en-resume.pt --restart-schedule \
	  --lr 1e-3 --total-steps $(TRAIN_PHASE_STEPS)

evaluate: ## Accuracy table: crnn-en on funsd-val, iiit5k, unseen fonts, screenshot-like, sroie-dev; MODEL=crnn-zh VERSION=x on held-out Chinese lines
	$(PYTHON) -m training.evaluate --profile $(PROFILE) --model $(MODEL) --version $(VERSION)

TRAIN_ZH_STEPS ?= 16000
train-zh: ## Chinese + English (crnn-zh): start or resume runs/crnn-zh (from models/resume/crnn-zh-resume.pt when committed); SIGTERM-safe
	$(PYTHON) -m training.train --profile zh --run runs/crnn-zh --init models/resume/crnn-zh-resume.pt \
	  --total-steps $(TRAIN_ZH_STEPS)

CHECKPOINT ?= $(if $(filter zh,$(PROFILE)),runs/crnn-zh/best.pt,runs/crnn/best.pt)
export: ## Export the best validated checkpoint to a new bundle: make export NEW_VERSION=1.3.0 [CHECKPOINT=runs/crnn/last.pt] (MODEL=crnn-zh: runs/crnn-zh/best.pt)
	@test -n "$(NEW_VERSION)" || { echo "usage: make export NEW_VERSION=x.y.z (models/$(MODEL)-x.y.z must not be a shipped bundle)"; exit 2; }
	$(PYTHON) -m training.export --profile $(PROFILE) --checkpoint $(CHECKPOINT) --name $(MODEL) --version $(NEW_VERSION) $(if $(filter zh,$(PROFILE)),--quantize)

bench: bench-lines bench-pages ## Recognition and page benchmarks vs RapidOCR and Tesseract

bench-lines: $(BENCH_VENV)/.synced ## ms/line and line CER: ours vs RapidOCR rec vs Tesseract --psm 7 (in .venv-bench)
	$(BENCH_PYTHON) bench/recognition_latency.py

bench-zh: $(BENCH_VENV)/.synced ## Chinese lines: crnn-zh VERSION=x vs RapidOCR's PP-OCRv4 rec, CER strict/normalised, ms/line (in .venv-bench)
	$(BENCH_PYTHON) bench/zh_recognition.py --model crnn-zh --version $(VERSION)

bench-zh-pages: $(BENCH_VENV)/.synced ## Chinese pages: our page pipeline with crnn-zh VERSION=x vs RapidOCR det+rec, page CER, ms/page (in .venv-bench)
	$(BENCH_PYTHON) bench/zh_pages.py --model crnn-zh --version $(VERSION)

bench-columns: $(BENCH_VENV)/.synced ## Reading order: rendered pages of 2-3 columns and tables, ours (columns / rows only) vs RapidOCR vs Tesseract (in .venv-bench)
	$(BENCH_PYTHON) bench/reading_order.py

bench-light: $(BENCH_VENV)/.synced ## Light text on dark ground and low-contrast colour: rendered slides, dark-mode screenshots, title bars; ours (with / without) vs RapidOCR vs Tesseract (in .venv-bench)
	$(BENCH_PYTHON) bench/light_text_pages.py

bench-pages: $(BENCH_VENV)/.synced ## Page latency p50/p95 and page CER: ours (HTTP, 1 worker) vs RapidOCR vs Tesseract (in .venv-bench)
	$(BENCH_PYTHON) bench/page_latency.py

bench-detect: ## Line detection recall/precision/F1 at IoU 0.5 on sroie-dev
	$(PYTHON) bench/detection_eval.py

bench-load: $(BENCH_VENV)/.synced ## Locust headless load test at 10/20/50 users against gunicorn on loopback (in .venv-bench)
	PATH="$(abspath $(BENCH_VENV))/bin:$$PATH" PYTHON=$(BENCH_PYTHON) bash bench/load_test.sh

bench-attacks: ## Hostile clients against a local gunicorn: answer time, worker peak RSS, /health and a normal request
	$(PYTHON) bench/attacks.py

bench-jobs: ## 200 pages as batch jobs against 1 and 2 worker processes: pages/s, job latency, interactive p95
	$(PYTHON) bench/jobs_throughput.py --pages 200 --workers 1,2 --pin

bench-operator: ## 100 OcrServices at once against the local cluster: time to Ready, RSS, API calls
	$(PYTHON) bench/operator_scale.py

bench-operator-chaos: ## 20 SIGKILLs of the operator during spec changes: convergence, false Events, status truth
	$(PYTHON) bench/operator_chaos.py --rounds 20

images: image-server image-operator ## Build both container images with docker (CONTAINER_ENGINE=podman to change; needs a running engine)

image-server: ## Server image (onnxruntime, no torch; model baked in)
	$(CONTAINER_ENGINE) build -f docker/server.Dockerfile -t $(SERVER_IMAGE) .

image-operator: ## Operator image
	$(CONTAINER_ENGINE) build -f docker/operator.Dockerfile -t $(OPERATOR_IMAGE) .

images-local: ## Build both images without a Docker daemon: buildah on a debootstrap base (root; apt-get install buildah debootstrap)
	docker/build-local.sh

image-test: ## Build both images with buildah and run them (the operator image against the local cluster)
	OCR_IMAGE_TESTS=1 $(PYTHON) -m pytest tests/chart/test_images.py

clean: ## Remove caches (keeps .tools, runs and the environments; rm -rf .venv .venv-bench .uv for those)
	rm -rf .pytest_cache .ruff_cache data-cache build *.egg-info

# ---- real node (tests/cluster/node.py): real pods on this machine; root + containerd (README) ----
.PHONY: node-setup node-images-auto node-build node-images test-node demo demo-down

node-setup: node-build node-images-auto ## Real-node tools, then the images where they can be built (root, buildah, debootstrap)

# The images when this machine can build them (root, buildah, debootstrap): instant when cached, a rebuild
# when an input changed (so `make test` never runs the real-node tests on a stale image); else a note,
# or a failure under CI=true (the real-node tests would fail anyway, later and less clearly).
node-images-auto: $(VENV)/.synced
	@if [ "$${OCR_REAL_NODE:-}" = 0 ]; then echo "node-images: skipped (OCR_REAL_NODE=0)"; \
	elif [ "$$(id -u)" = 0 ] && command -v buildah >/dev/null && command -v debootstrap >/dev/null; then \
	  $(MAKE) --no-print-directory node-images; \
	elif [ "$${CI:-}" = true ]; then \
	  echo "node-images: CI=true needs root, buildah and debootstrap to build the real node's images" >&2; exit 1; \
	else echo "node-images: not built (needs root, buildah, debootstrap): the real-node tests will skip"; fi

node-build: cluster-build ## Build kubelet, kube-proxy, CoreDNS, metrics-server into .tools/bin (pinned in versions.env)
	tests/cluster/build.sh node coredns metrics-server

node-images: ## Build the pause, server, operator and test Redis images with buildah (cached by content in ~/.cache/ocr-crnn/images)
	$(PYTHON) -m tests.cluster.images pause server operator redis

test-node: node-build node-images ## Only the real-node tests (tests/cluster/test_node.py, tests/e2e; root)
	$(PYTHON) -m pytest -q -m node tests/cluster/test_node.py tests/e2e

demo: ## Everything on a real node: control plane, node, images, chart + sample OcrService (root)
	PYTHON=$(PYTHON) hack/demo.sh up

demo-down: ## Stop the demo and undo every host change
	PYTHON=$(PYTHON) hack/demo.sh down
