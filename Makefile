# The developer interface: each target calls one script in ci/ (CI runs the same scripts).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VERSION := $(shell tr -d '[:space:]' < proto-registry/VERSION)
WHEEL := dist/bookshop_protos-$(VERSION)-py3-none-any.whl
NPM_PACKAGE := dist/bookshop-protos-$(VERSION).tgz
PROTOS := $(shell find proto-registry -name '*.proto')
TOOLS := .venv/.tools
INSTALLED := .venv/.installed

.PHONY: help venv check-protos release-protos wheel npm-package publish install lint check test \
        test-system test-images test-registry check-compat run certs bench bench-scale soak \
        check-deploy lock clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(TOOLS): uv.lock
	ci/venv.sh

$(WHEEL): $(TOOLS) $(PROTOS) proto-registry/VERSION clients/python/setup.py \
          clients/python/pyproject.toml clients/python/MANIFEST.in
	ci/build_wheel.sh

$(NPM_PACKAGE): $(TOOLS) $(PROTOS) proto-registry/VERSION buf.gen.yaml \
                clients/typescript/package.json clients/typescript/package-lock.json \
                clients/typescript/README.md
	ci/build_npm.sh

$(INSTALLED): $(WHEEL) recommendations-service/pyproject.toml marketplace-django/pyproject.toml \
              uv.lock
	ci/install.sh

venv: $(TOOLS) ## Create .venv/ from uv.lock: the pinned tools and both services.

check-protos: $(TOOLS) ## buf format, lint, and breaking check against the latest release.
	ci/check_protos.sh

release-protos: $(TOOLS) ## Record the registry's current version as a release (a buf image).
	ci/release_protos.sh

wheel: $(WHEEL) ## Build the bookshop-protos sdist and wheel into dist/.

npm-package: $(NPM_PACKAGE) ## Build the @bookshop/protos npm package into dist/.

publish: $(TOOLS) ## Check, build and publish the wheel and the npm package (local pypiserver and verdaccio by default).
	ci/publish.sh

install: $(INSTALLED) ## Install the wheel and both services into .venv/.

lock: ## Refresh uv.lock, checkov's lock and the images' hashed exports after a dependency change.
	ci/lock.sh

lint: $(INSTALLED) ## ruff and mypy --strict over every distribution.
	ci/lint.sh

check: $(INSTALLED) ## The edit-test loop: protos, lint, registry, wheel, service, website tests.
	ci/check.sh

test-system: $(INSTALLED) ## Publishing and the registry walk-through, npm package, check-compat, end to end in chromium, hostile input, traces, short soak.
	ci/test_system.sh

test-images: $(TOOLS) ## check-deploy, then both images built and run with podman (needs root).
	ci/test_images.sh

test: $(INSTALLED) ## check, test-system and test-images in order (what CI runs).
	ci/test.sh

test-registry: $(INSTALLED) ## The registry and wheel tests alone (for work on the protos).
	ci/test_registry.sh

check-compat: $(INSTALLED) ## Every released client and runtime end against today's server, and back.
	ci/check_compat.sh

run: $(INSTALLED) ## Run the whole bookshop in the foreground: http://127.0.0.1:8000/
	ci/run.sh

certs: $(TOOLS) ## Make a development CA, server and client certificates in certs/.
	ci/certs.sh

bench: $(INSTALLED) ## Benchmarks against the baselines; writes docs/benchmarks.md, fails on a missed target.
	ci/bench.sh

bench-scale: $(INSTALLED) ## The service at 196 to 1M books; writes docs/benchmarks-scale.md, fails on a missed target.
	ci/bench_scale.sh

soak: $(INSTALLED) ## Load, restart, outage, bad-input and TLS scenarios; writes docs/reliability.md.
	ci/soak.sh

check-deploy: $(TOOLS) ## Render and validate the Kubernetes manifests, Dockerfiles and compose file.
	ci/check_deploy.sh

clean: ## Remove build outputs (keeps .venv/).
	rm -rf dist clients/python/src clients/python/build clients/typescript/gen
