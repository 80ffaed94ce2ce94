package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/apptest"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/topology"
)

// TestTimelineOnOVS: the link h1-h2 is cut and restored; a new page's
// timeline dragged back to a moment during the cut shows the link down
// (red) with the link-down among the events of that moment, a moment
// after the restore shows it up, and Live shows the live graph again
// (timeline.e2e.mjs).
func TestTimelineOnOVS(t *testing.T) {
	browserReady(t)
	dir := artifacts(t)
	sat := apptest.Start(t, apptest.Options{
		Configure: func(c *config.Config) { c.Discovery.Interval = config.Duration(500 * time.Millisecond) }})
	topo := lab.Start(t, lab.Config{Hosts: 2, Controllers: []string{"unix:" + sat.Sock}})
	linkState := func() string {
		for _, l := range sat.Model.Links() {
			if l.Kind == topology.LinkDirect {
				return l.State
			}
		}
		return ""
	}
	up := func() bool { s := linkState(); return s != "" && s != "down" }
	waitFor(t, 30*time.Second, "the direct link discovered", up)
	time.Sleep(2 * time.Second) // some history with the link up
	if err := topo.CutLink(sat.Context(), 1, 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the link down", func() bool { return linkState() == "down" })
	cut := time.Now()
	time.Sleep(3 * time.Second)
	if err := topo.RestoreLink(sat.Context(), 1, 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the link up again", up)
	restored := time.Now()
	time.Sleep(3 * time.Second)
	if err := sat.Journal.Sync(); err != nil {
		t.Fatal(err)
	}
	expect, _ := json.Marshal(map[string]string{"down": cut.Add(time.Second).UTC().Format(time.RFC3339Nano), "up": restored.Add(2 * time.Second).UTC().Format(time.RFC3339Nano)})
	runScript(t, "timeline.e2e.mjs", map[string]string{
		"SATELLITE_URL":       sat.URL,
		"SATELLITE_TOKEN":     sat.Token,
		"SATELLITE_ARTIFACTS": dir,
		"SATELLITE_EXPECT":    string(expect),
		"CHROMIUM":            Chromium,
	})
}
