package web_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// lintDir holds the pinned independent validator (@redocly/cli, from the
// npm registry through package-lock.json).
const lintDir = "testdata/openapi-lint"

// needTool skips when a tool is missing, except under CI=true, where the
// check must run.
func needTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: this check must run)", what)
	}
	t.Skip(what)
}

// TestOpenAPILint checks the document with an independent validator:
// @redocly/cli lint (OpenAPI 3.0 structure, every $ref resolving to a
// valid component name, unique operation ids, path parameters declared).
func TestOpenAPILint(t *testing.T) {
	_, err := exec.LookPath("node")
	needTool(t, err == nil, "node is not installed")
	if _, err := os.Stat(filepath.Join(lintDir, "node_modules", ".bin", "redocly")); err != nil {
		_, err := exec.LookPath("npm")
		needTool(t, err == nil, "npm is not installed")
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = lintDir
		if out, err := cmd.CombinedOutput(); err != nil {
			needTool(t, false, "npm ci "+lintDir+": "+err.Error()+"\n"+string(out))
		}
	}
	env := fullServer(t)
	doc := env.API.OpenAPI()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// component names are valid as references (Go generic names such as
	// Section[github.com/...] are not)
	for name := range doc["components"].(map[string]any)["schemas"].(map[string]any) {
		if !regexp.MustCompile(`^[A-Za-z0-9._-]+$`).MatchString(name) {
			t.Errorf("schema name %q is not valid in a $ref", name)
		}
	}
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _ := filepath.Abs(filepath.Join(lintDir, "redocly.yaml"))
	cmd := exec.Command(filepath.Join("node_modules", ".bin", "redocly"), "lint", "--config", cfg, "--format", "stylish", "--max-problems", "2000", file)
	cmd.Dir = lintDir
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redocly lint: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "is valid") || regexp.MustCompile(`(?m)^\s*\d+:\d+\s+(error|warning)\s`).Match(out) {
		t.Fatalf("redocly lint said:\n%s", out)
	}
	t.Logf("redocly lint: %s", strings.TrimSpace(lastLines(string(out), 3)))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
