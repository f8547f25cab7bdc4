# The two quick-start commands. Each does its own set-up (scripts/setup.sh is idempotent).
.PHONY: lab test setup lint bench

lab:
	bash scripts/setup.sh
	npm start

test:
	bash scripts/setup.sh
	npm test

setup:
	bash scripts/setup.sh

lint: setup
	npm run lint
