#!/usr/bin/env bash
# terraform validate and terraform test for every module and example under
# deploy/terraform, offline. The AWS provider comes from a local plugin
# directory (TF_PLUGIN_DIR, by default /opt/tf-plugins, laid out as
# terraform providers mirror writes it): nothing is downloaded, and the tests
# mock AWS (mock_provider), so no account is needed. Without a terraform
# binary or that provider this says so and exits 0: the Go checks of deploy/
# (make deploy-check) still hold the templates to the binary.
#
# Runs in a temporary copy of deploy/terraform, beside empty placeholders for
# the files the examples read (dist/authorizer.zip, bundle.tar.gz,
# key.pub.pem), so that neither .terraform folders nor lock files land in the
# repository.
set -euo pipefail
cd "$(dirname "$0")/../.."

plugins="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
if ! command -v terraform >/dev/null; then
	echo "deploy/terraform/check.sh: no terraform on PATH: terraform validate and terraform test not run"
	exit 0
fi
if [ ! -d "$plugins/registry.terraform.io/hashicorp/aws" ]; then
	echo "deploy/terraform/check.sh: no AWS provider in $plugins (TF_PLUGIN_DIR): terraform validate and terraform test not run"
	exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/deploy" "$tmp/dist"
cp -r deploy/terraform "$tmp/deploy/"
: >"$tmp/dist/authorizer.zip"
: >"$tmp/bundle.tar.gz"
: >"$tmp/key.pub.pem"
# The plugin directory as a mirror and as the plugin cache: each folder's
# init links the provider (some 700 MB) instead of copying it.
cat >"$tmp/cli.tfrc" <<CONFIG
plugin_cache_dir = "$plugins"
plugin_cache_may_break_dependency_lock_file = true
provider_installation {
  filesystem_mirror {
    path = "$plugins"
  }
}
CONFIG
export TF_CLI_CONFIG_FILE="$tmp/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

status=0
for dir in "$tmp"/deploy/terraform/modules/*/ "$tmp"/deploy/terraform/examples/*/; do
	name="${dir#"$tmp"/}"
	log="$tmp/$(basename "$dir").log"
	# terraform test plans, which validates the folder and the modules it
	# calls; a folder without tests is validated alone.
	if ! (cd "$dir" && terraform init -backend=false -input=false -no-color &&
		if [ -d tests ]; then terraform test -no-color; else terraform validate -no-color; fi) >"$log" 2>&1; then
		echo "FAIL ${name%/}"
		cat "$log"
		status=1
		continue
	fi
	if [ -d "$dir/tests" ]; then
		echo "ok   ${name%/}: terraform test, $(grep -c '^  run .*\.\.\. pass$' "$log" || true) runs passed"
	else
		echo "ok   ${name%/}: terraform validate"
	fi
done
exit "$status"
