# Pinecrest Outfitters assistant. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

MODEL := models/assistant.tar.gz
# the router indexes the knowledge base with its facts filled in (knowledge/),
# and RETURN_WINDOW_DAYS (defaults.env) is one of them: an edit retrains it
TRAINING_INPUTS := config.yml defaults.env $(wildcard domain/*.yml data/*/*.yml custom_components/*.py \
                   knowledge/*.py knowledge_base/*.md knowledge_base/facts.yml)

.PHONY: help setup setup-rasa setup-model-server db validate train shell run action-server \
        model-server test test-nlu test-stories test-python test-model-server evaluate bench bench-guessing clean \
        setup-webchat webchat run-api test-channels redteam \
        images cluster cluster-down cluster-status test-cluster validate-k8s bench-cluster bench-load bench-faults \
        bench-clinc150

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

setup: setup-rasa setup-model-server db ## create both environments and the order database

setup-rasa: ## the Rasa + action server environment (.venv/rasa, Python 3.10)
	@scripts/setup_rasa_env.sh

setup-model-server: ## the model server environment (.venv/llm, Python 3.11 + torch)
	@scripts/setup_model_server_env.sh

db: setup-rasa ## create and seed the order database (DATABASE_URL, default var/shop.db)
	@source scripts/defaults.sh && .venv/rasa/bin/python -m actions.seed

validate: setup-rasa ## check the training data (fails on warnings)
	@source scripts/defaults.sh && .venv/rasa/bin/rasa data validate --domain domain --fail-on-warnings

train: setup-rasa $(MODEL) ## train the assistant when data or config changed

$(MODEL): $(TRAINING_INPUTS)
	@scripts/train.sh

shell: setup train ## chat with the assistant in this terminal (main job)
	@scripts/run_assistant.sh shell

run: setup train ## serve REST (and the other channels) on 127.0.0.1:5005
	@scripts/run_assistant.sh run

action-server: setup-rasa db ## run only the action server on 127.0.0.1:5055
	@source scripts/defaults.sh && .venv/rasa/bin/python -m settings.time_budgets && SANIC_HOST=$$ACTION_SERVER_HOST .venv/rasa/bin/rasa run actions --actions actions --port $$ACTION_SERVER_PORT

model-server: setup-model-server ## run only the model server on 127.0.0.1:8000
	@source scripts/defaults.sh && .venv/llm/bin/python -m model_server --host $$MODEL_SERVER_HOST --port $$MODEL_SERVER_PORT

setup-webchat: ## install the chat widget (rasa-webchat) from npm into webchat/
	@scripts/setup_webchat.sh

webchat: setup train setup-webchat ## the web chat page on 127.0.0.1:8080 next to the assistant
	@scripts/run_webchat.sh

run-api: setup train ## like run, plus the HTTP API: needs RASA_API_TOKEN and/or RASA_JWT_SECRET
	@scripts/run_api.sh

test: ## run every test: what CI runs (.ci/run)
	@scripts/test.sh

test-nlu: train ## held-out NLU evaluation with thresholds (reports in results/nlu)
	@scripts/test.sh nlu

test-stories: train ## end-to-end test stories (fails on prediction errors)
	@scripts/test.sh stories

test-python: train ## unit and integration tests of actions, components and channels
	@scripts/test.sh python

test-model-server: setup-model-server ## the model server's tests against the real model
	@scripts/test.sh model-server

test-channels: train setup-webchat ## channel and security tests only (browser, Slack, HTTP API, shell)
	@.venv/rasa/bin/python -m pytest tests/channels -q -p no:cacheprovider

evaluate: setup train ## evaluate the LLM fallback on the whole set (updates tests/evaluation/results)
	@source scripts/defaults.sh && .venv/rasa/bin/python -m tests.evaluation.evaluate --out tests/evaluation/results \
	  --sample $(or $(SAMPLE),0) --concurrency $(or $(CONCURRENCY),1)

bench: setup-model-server ## model server benchmark (results in benchmarks/)
	@.venv/llm/bin/python benchmarks/bench_model_server.py

bench-guessing: setup train ## 1,000 guessed order numbers with random e-mails: disclosures and refusals (benchmarks/results/guessing.md)
	@source scripts/defaults.sh && .venv/rasa/bin/python -m benchmarks.guessing.guess_orders

bench-clinc150: setup-rasa ## CLINC150 in-scope accuracy and oos recall: our NLU pipeline vs stock Rasa (DATA=, OUT=; benchmarks/results/clinc150.md, ~25 min; INTENTS=, EPOCHS=: smaller; REUSE=1: score the last trained model again; RETRAIN_CHANGED=1: after a settings change, train only what changed)
	@source scripts/defaults.sh && .venv/rasa/bin/python -m benchmarks.clinc150.run \
	  --data $(or $(DATA),../shared/datasets/clinc150/data_train_val.json) \
	  --out $(or $(OUT),benchmarks/results/clinc150.json) \
	  $(if $(INTENTS),--intents $(INTENTS)) $(if $(EPOCHS),--epochs $(EPOCHS)) \
	  $(if $(REUSE),--reuse-model) $(if $(RETRAIN_CHANGED),--retrain-changed)

redteam: setup train ## garak red-team run against REST, at most 20 min, not in CI (benchmarks/results/redteam.md)
	@benchmarks/redteam/run_redteam.sh

images: setup train setup-webchat ## build the container images of every tier (deploy/docker/)
	@scripts/build_images.sh

cluster: setup train setup-webchat ## build and deploy the Docker Swarm stack; load balancer on PINE_LB_HOST:PINE_LB_PORT (127.0.0.1:8088)
	@scripts/cluster.sh up

cluster-down: ## remove the stack and all it set up (REMOVE_IMAGES=1: the images too)
	@scripts/cluster.sh down

cluster-status: ## the stack's services and the load balancer's ready replicas
	@scripts/cluster.sh status

test-cluster: ## deploy the stack, run tests/cluster against it, remove it (the CI stage)
	@scripts/test.sh cluster

validate-k8s: ## render and validate the Kubernetes overlays offline (deploy/k8s/)
	@scripts/setup_deploy_env.sh && scripts/validate_k8s.sh

bench-cluster: ## memory and CPU of every tier of the running stack, idle and under load
	@.venv/rasa/bin/python -m benchmarks.cluster_resources

bench-load: ## load test of the running stack: 1 vs 2 Rasa and model replicas, checker, Prometheus (benchmarks/results/load.md, ~20 min; SHORT=1: ~1 min)
	@scripts/setup_load_env.sh && .venv/load/bin/python -m benchmarks.load.run_load $(if $(SHORT),--short)

bench-faults: ## faults under load on the running stack: kills, pauses, Redis and PostgreSQL outages (benchmarks/results/faults.md, ~20 min; SHORT=1: one Rasa kill, as in CI; SCENARIOS="kill-model ...": some)
	@scripts/setup_load_env.sh && .venv/load/bin/python -m benchmarks.faults.run_faults $(if $(SHORT),--short) $(SCENARIOS)

clean: ## remove trained models, results and the local database (keeps environments and a cluster's state)
	rm -rf models results
	find var -mindepth 1 -maxdepth 1 ! -name docker -exec rm -rf {} + 2>/dev/null || true
