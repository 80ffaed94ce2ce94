package core

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOutsideOVSRunDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OVS_RUNDIR", dir)
	if _, outside := outsideOVSRunDir("/tmp/x/of.sock"); outside {
		t.Fatal("warned although no Open vSwitch runs from the run directory")
	}
	if err := os.WriteFile(filepath.Join(dir, "db.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, outside := outsideOVSRunDir("/tmp/x/of.sock"); !outside || got != dir {
		t.Fatalf("a socket outside %s: outside=%v dir=%s", dir, outside, got)
	}
	if _, outside := outsideOVSRunDir(filepath.Join(dir, "sub", "of.sock")); outside {
		t.Fatal("a socket inside the run directory was called outside")
	}
}
