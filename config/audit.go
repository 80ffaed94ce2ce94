package config

import (
	"time"

	"github.com/satellite-sdn/satellite/audit"
)

// Audit tunes the flow audit (docs/audit.md):
//
//	audit: {foreign: report, dead_after: 10m}
type Audit struct {
	// Foreign is what to do with flows nobody in Satellite installed:
	// report (default: an audit entry and a flow-drift event), remove
	// (deleted at every reconciliation, with a flow-repair event) or
	// keep-silent (left alone, not reported).
	Foreign string `yaml:"foreign"`
	// DeadAfter: an owned flow that counts no packet for this long while
	// its network carries traffic on the switch is reported dead; 0s
	// turns the check off.
	DeadAfter Duration `yaml:"dead_after"`
}

func defaultAudit() Audit {
	return Audit{Foreign: audit.ForeignReport, DeadAfter: Duration(audit.DefaultDeadAfter)}
}

func (c Config) validateAudit(bad func(setting, format string, args ...any)) {
	if _, err := audit.ParseForeignPolicy(c.Audit.Foreign); err != nil {
		bad("audit.foreign", "%q: want report (the default), remove or keep-silent", c.Audit.Foreign)
	}
	if d := time.Duration(c.Audit.DeadAfter); d < 0 || (d > 0 && d < time.Minute) {
		bad("audit.dead_after", "%s; want 0s (off) or at least 1m (such as 10m)", d)
	}
}

// AuditOptions returns the audit engine's settings from the configuration.
func (c Config) AuditOptions() audit.Options {
	dead := time.Duration(c.Audit.DeadAfter)
	if dead == 0 {
		dead = -1 // off
	}
	foreign, _ := audit.ParseForeignPolicy(c.Audit.Foreign)
	return audit.Options{Foreign: foreign, DeadAfter: dead}
}
