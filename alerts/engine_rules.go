package alerts

// Rule CRUD: add, replace and delete rules, kept in the RuleStore
// (store.go), and the rules' alerts dropped with them.

import (
	"fmt"
	"sort"
	"time"
)

// Rules returns every rule by name.
func (e *Engine) Rules() []RuleInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]RuleInfo, 0, len(e.rules)+len(e.skipped))
	for _, c := range e.rules {
		out = append(out, c.info())
	}
	for _, s := range e.skipped {
		out = append(out, s.info())
	}
	// by name; a skipped rule after the active rule of the same name
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Status == StatusActive
	})
	return out
}

func (c *compiled) info() RuleInfo {
	r := c.Rule
	v, cl := Threshold(c.value), Threshold(c.clear)
	r.Value, r.Clear = &v, &cl
	return RuleInfo{Rule: r, Source: c.source, Status: StatusActive}
}

func (s *skippedRule) info() RuleInfo {
	return RuleInfo{Rule: s.rule, Source: SourceAPI, Status: StatusSkipped, Problem: s.problem}
}

// Rule returns one rule: the active rule of that name, else a skipped
// stored one.
func (e *Engine) Rule(name string) (RuleInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.rules[name]; ok {
		return c.info(), true
	}
	if s, ok := e.skipped[name]; ok {
		return s.info(), true
	}
	return RuleInfo{}, false
}

// store runs a change of the rule store; its error is ErrRuleStore. The
// caller holds e.mu and changes nothing before it succeeded.
func (e *Engine) store(op func(RuleStore) error) error {
	if e.cfg.Store == nil {
		return nil
	}
	if err := op(e.cfg.Store); err != nil {
		e.log.Error("alert rule store write failed; the rule change is refused", "err", err)
		return fmt.Errorf("%w: %v", ErrRuleStore, err)
	}
	return nil
}

// AddRule adds a rule (source "api"), stored first when the engine has a
// store. Errors: a *FieldError for an invalid rule; ErrRuleReadOnly if
// the configuration file has a rule of that name; ErrRuleExists if the
// name is taken by another API rule (also a skipped stored one);
// ErrRuleStore if the store failed (nothing changed).
func (e *Engine) AddRule(r Rule) (RuleInfo, error) {
	c, err := compile(r)
	if err != nil {
		return RuleInfo{}, err
	}
	c.source = SourceAPI
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.rules[c.Name]; ok && old.source == SourceConfig {
		return RuleInfo{}, fmt.Errorf("%w: %s", ErrRuleReadOnly, c.Name)
	}
	if _, ok := e.rules[c.Name]; ok {
		return RuleInfo{}, fmt.Errorf("%w: %s", ErrRuleExists, c.Name)
	}
	if _, ok := e.skipped[c.Name]; ok {
		return RuleInfo{}, fmt.Errorf("%w: %s (stored, skipped at start-up)", ErrRuleExists, c.Name)
	}
	if err := e.store(func(s RuleStore) error { return s.SaveRule(r) }); err != nil {
		return RuleInfo{}, err
	}
	e.rules[c.Name] = c
	e.reindex()
	return c.info(), nil
}

// PutRule creates or replaces an API rule (stored first, like AddRule)
// and reports whether it was created. A skipped stored rule of that name
// is replaced. Alerts of a replaced rule are kept when its metric and
// selector are unchanged (the new thresholds apply from the next value);
// otherwise they resolve. Errors: a *FieldError, ErrRuleReadOnly for a
// rule of the configuration file, ErrRuleStore.
func (e *Engine) PutRule(r Rule) (RuleInfo, bool, error) {
	c, err := compile(r)
	if err != nil {
		return RuleInfo{}, false, err
	}
	c.source = SourceAPI
	e.mu.Lock()
	defer e.mu.Unlock()
	old, existed := e.rules[c.Name]
	if existed && old.source == SourceConfig {
		return RuleInfo{}, false, fmt.Errorf("%w: %s", ErrRuleReadOnly, c.Name)
	}
	if err := e.store(func(s RuleStore) error { return s.SaveRule(r) }); err != nil {
		return RuleInfo{}, false, err
	}
	_, wasSkipped := e.skipped[c.Name]
	delete(e.skipped, c.Name)
	if existed && (old.Metric != c.Metric || !sameSelector(old.Selector, c.Selector)) {
		e.dropRuleAlerts(c.Name, time.Now(), "rule changed")
	} else if existed {
		for k, a := range e.active {
			if k.rule == c.Name {
				a.Severity, a.Op, a.Threshold, a.Clear = c.Severity, c.Op, c.value, c.clear
				a.Labels = mergeLabels(a.Labels, c.Labels)
			}
		}
	}
	e.rules[c.Name] = c
	e.reindex()
	return c.info(), !existed && !wasSkipped, nil
}

func sameSelector(a, b Selector) bool {
	eqU := func(x, y *uint32) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqI := func(x, y *int) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.DPID == b.DPID && a.Owner == b.Owner && a.Event == b.Event && eqU(a.Port, b.Port) && eqU(a.Network, b.Network) &&
		a.Remote == b.Remote && eqI(a.Path, b.Path)
}

// DeleteRule removes an API rule, from the store first; its firing alerts
// resolve. A skipped stored rule of that name is removed from the store
// (also one shadowed by a rule of the configuration file). Errors:
// ErrRuleNotFound, ErrRuleReadOnly for a rule of the configuration file,
// ErrRuleStore (nothing changed).
func (e *Engine) DeleteRule(name string) (RuleInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.skipped[name]; ok {
		if err := e.store(func(st RuleStore) error { return st.DeleteRule(name) }); err != nil {
			return RuleInfo{}, err
		}
		delete(e.skipped, name)
		return s.info(), nil
	}
	c, ok := e.rules[name]
	if !ok {
		return RuleInfo{}, fmt.Errorf("%w: %s", ErrRuleNotFound, name)
	}
	if c.source == SourceConfig {
		return RuleInfo{}, fmt.Errorf("%w: %s", ErrRuleReadOnly, name)
	}
	if err := e.store(func(st RuleStore) error { return st.DeleteRule(name) }); err != nil {
		return RuleInfo{}, err
	}
	delete(e.rules, name)
	e.reindex()
	e.dropRuleAlerts(name, time.Now(), "rule deleted")
	return c.info(), nil
}

// dropRuleAlerts resolves the firing alerts of a rule and forgets its
// pending ones. The caller holds e.mu.
func (e *Engine) dropRuleAlerts(rule string, now time.Time, reason string) {
	for k, a := range e.active {
		if k.rule != rule {
			continue
		}
		if a.State == StateFiring {
			e.resolve(k, a, now, reason)
		} else {
			delete(e.active, k)
		}
	}
}
