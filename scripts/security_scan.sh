#!/usr/bin/env bash
# `make security-scan`: checkov on template.yaml and on its CloudFormation translation (what SAM deploys:
# the generated roles, permissions and API stage), offline; then no IAM statement of either may allow a
# wildcard action. Prints passed/failed/skipped per template; exits non-zero on any failure.
# Skips are declared in the template, on each resource's Metadata (checkov: skip: id, comment), with why.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=.venv-tools
CHECKOV=.venv-checkov
TRANSLATED=.aws-sam/translated.json
for venv in "$TOOLS" "$CHECKOV"; do
    [[ -f $venv/.installed ]] || { echo "security_scan: $venv is missing: run make security-scan"; exit 2; }
done
command -v jq >/dev/null || { echo "security_scan: jq is missing (apt-get install jq)"; exit 2; }

# Offline and without an account: --skip-download and BC_SKIP_MAPPING keep checkov from fetching policies,
# guidelines and ID mappings from the platform, CKV_SKIP_PACKAGE_UPDATE_CHECK from asking PyPI for a newer
# version, and without an API key nothing is uploaded.
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true
unset BC_API_KEY
# Where the kernel allows it, checkov runs in a network namespace with no interface: any call it still
# tried would fail instead of leaving the machine.
offline=()
isolation="no API key, --skip-download"
if unshare --net --map-root-user true 2>/dev/null; then
    offline=(unshare --net --map-root-user)
    isolation+=", in a network namespace with no interface"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Translate the current template, so that the scan never reads a stale translation.
if ! "$TOOLS/bin/python" scripts/translate_template.py template.yaml "$TRANSLATED" >"$work/translate.log" 2>&1; then
    cat "$work/translate.log"
    exit 1
fi

version=$("$CHECKOV/bin/checkov" --version)
echo "checkov $version, framework cloudformation, offline ($isolation)"
failed=0
for template in template.yaml "$TRANSLATED" letters-receiving.yaml; do
    report="$work/$(basename "$template").json"
    status=0
    "${offline[@]}" "$CHECKOV/bin/checkov" --skip-download --framework cloudformation --file "$template" \
        --output json >"$report" 2>"$work/checkov.err" || status=$?
    # Exit 1 means failed checks, reported below. Anything else, or a report without results (checkov's answer
    # for a file it does not take for a template), fails the scan.
    if (( status > 1 )) || ! jq -e '.results' "$report" >/dev/null 2>&1; then
        echo "  $template: no checkov results (exit $status): checkov failed or did not take it for a template"
        cat "$work/checkov.err" "$report"
        failed=1
        continue
    fi
    jq -r --arg template "$template" '
        .summary as $s
        | "  \($template): \($s.passed) passed, \($s.failed) failed, \($s.skipped) skipped, \($s.parsing_errors) parsing errors (\($s.resource_count) resources)",
          (.results.failed_checks[] | "    FAILED \(.check_id) \(.resource) (lines \(.file_line_range | join("-"))): \(.check_name)"),
          ([.results.skipped_checks[].check_id] | group_by(.) | map("\(.[0]) x\(length)") | join(", ")
           | select(. != "") | "    skipped (reasons in the template): \(.)")' "$report"
    if ! jq -e '.summary | .failed == 0 and .parsing_errors == 0 and .passed + .skipped > 0' "$report" >/dev/null; then
        failed=1
    fi
done

echo "IAM actions"
"$TOOLS/bin/python" scripts/check_iam_actions.py template.yaml "$TRANSLATED" letters-receiving.yaml || failed=1

if (( failed )); then
    echo "security scan: FAILED (${SECONDS} s)"
    exit 1
fi
echo "security scan: passed (${SECONDS} s)"
