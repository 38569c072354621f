# tollgate — top-level commands.
#   make run    build (release) and start the gateway with conf/tollgate.yaml
#   make test   install what the tests need (once), then fmt check, clippy and every test
#   make deps   only install what is missing (cmake, redis-server, nginx, the Python SDK venv)

CARGO ?= cargo
PYTHON3 ?= python3
CONFIG ?= conf/tollgate.yaml

# Python venv with the official SDKs used as clients by the integration tests.
TOLLGATE_VENV ?= $(HOME)/.cache/tollgate/venv
OPENAI_VERSION = 3.54.0
ANTHROPIC_VERSION = 2.12.0
# botocore checks the Bedrock mock's SigV4 verification independently of the gateway's signer.
BOTOCORE_VERSION = 1.44.5
VENV_STAMP = $(TOLLGATE_VENV)/.tollgate-openai-$(OPENAI_VERSION)-anthropic-$(ANTHROPIC_VERSION)-botocore-$(BOTOCORE_VERSION)

# Installs the Debian packages given as arguments; `apt-get update` runs once, and only when
# something is missing.
APT_INSTALL = apt_install() { \
	[ -z "$$*" ] && return 0; \
	echo "make: installing missing packages: $$*"; \
	DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$$@"; \
}

.PHONY: all deps build-deps run test

all: test

# cmake is needed by every build (pingora-core builds zlib-ng).
build-deps:
	@$(APT_INSTALL); \
	set --; \
	command -v cmake >/dev/null 2>&1 || set -- "$$@" cmake; \
	apt_install "$$@"

deps:
	@$(APT_INSTALL); \
	set --; \
	command -v cmake >/dev/null 2>&1 || set -- "$$@" cmake; \
	command -v redis-server >/dev/null 2>&1 || set -- "$$@" redis-server; \
	{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || set -- "$$@" nginx; \
	if [ ! -f "$(VENV_STAMP)" ]; then \
		probe=$$(mktemp -d); \
		$(PYTHON3) -m venv "$$probe/v" >/dev/null 2>&1 || set -- "$$@" python3-venv; \
		rm -rf "$$probe"; \
	fi; \
	apt_install "$$@"
	@if [ ! -f "$(VENV_STAMP)" ]; then \
		echo "make: creating $(TOLLGATE_VENV) (openai $(OPENAI_VERSION), anthropic $(ANTHROPIC_VERSION), botocore $(BOTOCORE_VERSION))"; \
		rm -rf "$(TOLLGATE_VENV)" && \
		mkdir -p "$$(dirname "$(TOLLGATE_VENV)")" && \
		$(PYTHON3) -m venv "$(TOLLGATE_VENV)" && \
		"$(TOLLGATE_VENV)/bin/pip" install -q --disable-pip-version-check \
			"openai==$(OPENAI_VERSION)" "anthropic==$(ANTHROPIC_VERSION)" \
			"botocore==$(BOTOCORE_VERSION)" && \
		touch "$(VENV_STAMP)"; \
	fi

run: build-deps
	$(CARGO) run --release --bin tollgate -- -c $(CONFIG)

test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	TOLLGATE_PYTHON="$(TOLLGATE_VENV)/bin/python" $(CARGO) test --workspace

# Fuzzing (not part of `make test`: it needs cargo-fuzz and minutes per target). Runs every
# target under tests/fuzz for FUZZ_SECONDS each; a crash stops it with the reproducer saved
# under tests/fuzz/artifacts/. cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP lets the stable
# toolchain accept them.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = nginx_parse bedrock_stream gemini_decode compat_rewrite responses_request \
	anthropic_codec messages_front responses_stream sse_meter
.PHONY: fuzz
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz
	@for t in $(FUZZ_TARGETS); do \
		echo "make: fuzzing $$t for $(FUZZ_SECONDS)s"; \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --fuzz-dir tests/fuzz $$t -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 || exit 1; \
	done
