package exporters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/satellite-sdn/satellite/exporters/queue"
)

// Destination delivers batches of points to one external system (an
// InfluxDB bucket, a Fluentd aggregator). An Exporter drives it.
type Destination interface {
	// Kind names the type of destination ("influx", "fluent").
	Kind() string
	// Target says where the data goes, for logs and health (a URL and
	// bucket, an address); never a secret.
	Target() string
	// Check verifies that the destination is reachable and accepts writes
	// with the configured settings. Errors that retrying cannot fix (bad
	// credentials, unknown database) wrap ErrMisconfigured.
	Check(ctx context.Context) error
	// Send delivers one batch. It returns nil only when the destination
	// has the whole batch. An error wrapping ErrRejected means the
	// destination refused the data itself (retrying the same batch cannot
	// help: it is discarded and counted); an error wrapping
	// ErrMisconfigured means the settings are wrong; anything else is
	// transient. Both of the last two are retried with backoff.
	Send(ctx context.Context, batch []Point) error
	// Close releases connections.
	Close() error
}

// PartialSender is a Destination that can deliver part of a batch, such
// as the Fluent Forward protocol with one acknowledgement per tag:
// SendPartial returns how many points at the start of the batch the
// destination has acknowledged, also when it fails. The rest is retried,
// so a failure in the middle of a batch does not send its start twice.
type PartialSender interface {
	SendPartial(ctx context.Context, batch []Point) (int, error)
}

// Error classes of a Destination.
var (
	ErrMisconfigured = errors.New("misconfigured")
	ErrRejected      = errors.New("rejected by the destination")
)

// RejectedError says how many points of a batch the destination refused
// (the rest it stored), when it says so. It matches ErrRejected.
type RejectedError struct {
	Points int // refused points; 0: unknown, the whole batch counts
	Err    error
}

func (e *RejectedError) Error() string { return e.Err.Error() }

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// Unwrap returns the underlying error.
func (e *RejectedError) Unwrap() error { return e.Err }

// States of an exporter.
const (
	StateStarting      = "starting"      // no delivery attempted yet
	StateOK            = "ok"            // the last delivery or check succeeded
	StateDown          = "down"          // the destination is unreachable or failing; buffering and retrying
	StateMisconfigured = "misconfigured" // the destination refuses our settings; buffering and retrying
	StateStopped       = "stopped"
)

// Options tune an Exporter. Zero values take the defaults.
type Options struct {
	// Name identifies the exporter in logs, health and metrics (default:
	// the destination's kind).
	Name string
	// BufferPoints and BufferBytes bound the queue (default 100000
	// points, 64 MiB; BufferBytes < 0: no byte limit). When either is
	// reached the oldest points are dropped and counted.
	BufferPoints int
	BufferBytes  int64
	// BatchPoints and BatchBytes bound one delivery (default 5000
	// points, 4 MiB).
	BatchPoints int
	BatchBytes  int64
	// FlushInterval is the longest a point waits for a batch to fill
	// (default 1s).
	FlushInterval time.Duration
	// Parallel is how many batches may be in flight at once (default 1).
	// More than one keeps a server with several cores busy while the next
	// batch is encoded and the previous one acknowledged; batches may then
	// arrive out of order. After a failure only one batch is in flight
	// until a delivery succeeds again. The destination's Send must be safe
	// for concurrent use when Parallel > 1.
	Parallel int
	// Timeout bounds one delivery or check (default 10s).
	Timeout time.Duration
	// Backoff is the retry delay after a failed delivery (default 100ms
	// doubling to 10s).
	Backoff queue.Backoff
	// DrainTimeout bounds the final flush when Run's context ends
	// (default 5s).
	DrainTimeout time.Duration
	// Logger receives state changes: outages, recoveries, drops (default
	// slog.Default()).
	Logger *slog.Logger
}

func (o *Options) defaults(kind string) {
	if o.Name == "" {
		o.Name = kind
	}
	if o.BufferPoints <= 0 {
		o.BufferPoints = 100000
	}
	if o.BufferBytes == 0 {
		o.BufferBytes = 64 << 20
	}
	if o.BatchPoints <= 0 {
		o.BatchPoints = 5000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Exporter buffers points for one Destination and delivers them in
// batches from its own goroutine (Run), retrying with backoff while the
// destination is down. It is a Sink.
type Exporter struct {
	dest Destination
	opt  Options
	q    *queue.Queue[Point]
	log  *slog.Logger

	mu         sync.Mutex
	state      string
	lastErr    string
	lastErrAt  time.Time
	lastOK     time.Time
	downSince  time.Time
	checkErr   string
	lastDrop   uint64 // dropped count last logged
	attempts   atomic.Uint64
	failures   atomic.Uint64
	rejected   atomic.Uint64
	batches    atomic.Uint64
	sendNanos  atomic.Int64 // total time spent in successful Send calls
	runDone    chan struct{}
	startedRun sync.Once
}

// NewExporter returns an exporter for d; call Run to start delivering.
func NewExporter(d Destination, opt Options) *Exporter {
	opt.defaults(d.Kind())
	bytes := opt.BufferBytes
	if bytes < 0 {
		bytes = 0
	}
	return &Exporter{
		dest:    d,
		opt:     opt,
		q:       queue.New[Point](opt.BufferPoints, bytes),
		log:     opt.Logger.With("component", "exporter", "exporter", opt.Name),
		state:   StateStarting,
		runDone: make(chan struct{}),
	}
}

// Name returns the exporter's name.
func (e *Exporter) Name() string { return e.opt.Name }

func pointSize(p Point) int { return p.Size() }

// Write queues points for delivery. It never blocks: when the buffer is
// full the oldest points are dropped and counted.
func (e *Exporter) Write(ps []Point) { e.q.Push(pointSize, ps...) }

// Check runs the destination's check now and records the outcome in the
// exporter's status. Run does this too when it starts.
func (e *Exporter) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.opt.Timeout)
	defer cancel()
	err := e.dest.Check(ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.checkErr = err.Error()
		e.setFailedLocked(err)
		return err
	}
	e.checkErr = ""
	e.state = StateOK
	e.lastErr = ""
	return nil
}

func (e *Exporter) setFailedLocked(err error) {
	now := time.Now()
	if errors.Is(err, ErrMisconfigured) {
		e.state = StateMisconfigured
	} else {
		e.state = StateDown
	}
	if e.downSince.IsZero() {
		e.downSince = now
	}
	e.lastErr = err.Error()
	e.lastErrAt = now
}

// Run checks the destination, then delivers queued points until ctx ends;
// then it tries to deliver what is left for at most DrainTimeout. It logs
// outages, recoveries and drops; it returns when done (nil).
func (e *Exporter) Run(ctx context.Context) error {
	first := false
	e.startedRun.Do(func() { first = true })
	if !first {
		return errors.New("exporter: Run called twice")
	}
	defer close(e.runDone)
	defer e.dest.Close()

	// a failure already reported by an earlier Check (Set.Check at
	// start-up) is not logged again
	e.mu.Lock()
	prevState, prevErr := e.state, e.lastErr
	e.mu.Unlock()
	if err := e.Check(ctx); err != nil && ctx.Err() == nil && (prevState != e.stateNow() || prevErr != err.Error()) {
		e.logFailure(err, true)
	}
	e.deliver(ctx)
	e.drain()
	e.mu.Lock()
	e.state = StateStopped
	e.mu.Unlock()
	return nil
}

// sendResult is the outcome of one send, with its batch buffer.
type sendResult struct {
	buf []Point
	err error
}

// deliver sends batches, up to Parallel at once, until ctx ends; it
// returns when no send is left in flight.
func (e *Exporter) deliver(ctx context.Context) {
	bo := e.opt.Backoff
	logTick := time.NewTicker(10 * time.Second)
	defer logTick.Stop()
	results := make(chan sendResult, e.opt.Parallel)
	free := make([][]Point, 0, e.opt.Parallel)
	for range e.opt.Parallel {
		free = append(free, make([]Point, 0, e.opt.BatchPoints))
	}
	inflight, limit := 0, e.opt.Parallel
	retrying := false
	var notBefore time.Time // backoff after a failure
	settle := func(r sendResult) {
		inflight--
		free = append(free, r.buf[:0])
		if r.err == nil {
			bo.Reset()
			retrying, limit, notBefore = false, e.opt.Parallel, time.Time{}
			return
		}
		if !retrying || notBefore.IsZero() || time.Now().After(notBefore) {
			notBefore = time.Now().Add(bo.Next())
		}
		retrying, limit = true, 1
	}
	defer func() {
		for inflight > 0 {
			settle(<-results)
		}
	}()
	for ctx.Err() == nil {
		// a free slot
		for inflight >= limit {
			select {
			case r := <-results:
				settle(r)
			case <-ctx.Done():
				return
			}
		}
		// the backoff after a failure
		if d := time.Until(notBefore); d > 0 {
			t := time.NewTimer(d)
			select {
			case r := <-results:
				settle(r)
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		if !e.waitBatch(ctx, logTick.C, results, settle, retrying) {
			continue // ctx ended, or a result arrived and may have changed the limits
		}
		buf := free[len(free)-1]
		batch, f := e.q.Take(buf, e.opt.BatchPoints, e.opt.BatchBytes)
		if len(batch) == 0 {
			continue
		}
		free = free[:len(free)-1]
		inflight++
		go func() {
			results <- sendResult{batch, e.send(ctx, batch, f)}
		}()
	}
}

// waitBatch waits until a full batch is pending, or FlushInterval after
// the first point arrived; false when ctx ends or a send's result arrived
// (handed to settle). A retry (after the backoff) does not wait for the
// batch to fill.
func (e *Exporter) waitBatch(ctx context.Context, logTick <-chan time.Time, results <-chan sendResult, settle func(sendResult), retrying bool) bool {
	var deadline <-chan time.Time
	for {
		n := e.q.Pending()
		if n >= e.opt.BatchPoints || (retrying && n > 0) {
			return true
		}
		if n > 0 && deadline == nil {
			t := time.NewTimer(e.opt.FlushInterval)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ctx.Done():
			return false
		case r := <-results:
			settle(r)
			return false
		case <-e.q.Ready():
		case <-deadline:
			return true
		case <-logTick:
			e.logDrops()
		}
	}
}

// send delivers one batch taken from the queue and settles it.
func (e *Exporter) send(ctx context.Context, batch []Point, f queue.Flight) error {
	sctx, cancel := context.WithTimeout(ctx, e.opt.Timeout)
	start := time.Now()
	e.attempts.Add(1)
	var err error
	delivered := 0
	if ps, ok := e.dest.(PartialSender); ok {
		delivered, err = ps.SendPartial(sctx, batch)
	} else if err = e.dest.Send(sctx, batch); err == nil {
		delivered = len(batch)
	}
	cancel()
	switch {
	case err == nil:
		e.batches.Add(1)
		e.sendNanos.Add(int64(time.Since(start)))
		e.recovered(f, len(batch), 0)
		return nil
	case errors.Is(err, ErrRejected):
		// the data itself is refused: retrying cannot help
		refused := len(batch) - delivered
		var re *RejectedError
		if errors.As(err, &re) && re.Points > 0 && re.Points < refused {
			refused = re.Points
		}
		e.log.Warn("destination rejected points; discarded", "points", refused, "batch", len(batch), "err", err)
		e.recovered(f, len(batch), refused)
		return nil
	default:
		e.q.Settle(f, delivered)
		e.failures.Add(1)
		e.logFailure(err, false)
		return err
	}
}

// recovered settles a delivered batch (of which refused points were
// rejected) and marks the destination ok, all under e.mu so that Status
// never sees the counts without the state, then logs a recovery.
func (e *Exporter) recovered(f queue.Flight, delivered, refused int) {
	e.mu.Lock()
	e.q.Settle(f, delivered)
	e.rejected.Add(uint64(refused))
	was, since := e.state, e.downSince
	e.state = StateOK
	e.lastOK = time.Now()
	e.downSince = time.Time{}
	e.lastErr = ""
	e.checkErr = ""
	e.mu.Unlock()
	if was == StateDown || was == StateMisconfigured {
		e.log.Info("exporter recovered", "target", e.dest.Target(), "outage", time.Since(since).Round(time.Millisecond), "queued", e.q.Len())
		e.logDrops()
	}
}

func (e *Exporter) stateNow() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

// logFailure records a failure; it logs only on a change of state or of
// the error, so a long outage is one log line, not one per retry.
func (e *Exporter) logFailure(err error, atStart bool) {
	e.mu.Lock()
	prevState, prevErr := e.state, e.lastErr
	e.setFailedLocked(err)
	state := e.state
	e.mu.Unlock()
	if state == prevState && err.Error() == prevErr && !atStart {
		return
	}
	if state == StateMisconfigured {
		e.log.Error("exporter misconfigured; buffering and retrying", "target", e.dest.Target(), "err", err)
		return
	}
	e.log.Warn("exporter destination unavailable; buffering and retrying", "target", e.dest.Target(), "err", err, "queued", e.q.Len())
}

// logDrops logs points dropped since the last report.
func (e *Exporter) logDrops() {
	st := e.q.Stats()
	e.mu.Lock()
	n := st.Dropped - e.lastDrop
	e.lastDrop = st.Dropped
	e.mu.Unlock()
	if n > 0 {
		e.log.Warn("export buffer full: dropped oldest points", "dropped", n, "dropped_total", st.Dropped,
			"buffer_points", st.MaxItems, "buffer_bytes", st.MaxBytes)
	}
}

// drain delivers what is queued, for at most DrainTimeout.
func (e *Exporter) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), e.opt.DrainTimeout)
	defer cancel()
	batch := make([]Point, 0, e.opt.BatchPoints)
	for ctx.Err() == nil {
		var f queue.Flight
		batch, f = e.q.Take(batch, e.opt.BatchPoints, e.opt.BatchBytes)
		if len(batch) == 0 {
			break
		}
		if err := e.send(ctx, batch, f); err != nil {
			break
		}
	}
	e.logDrops()
	if n := e.q.Len(); n > 0 {
		e.log.Warn("exporter stopped with undelivered points", "target", e.dest.Target(), "points", n)
	}
}

// Wait returns when Run has returned (at once if Run never started).
func (e *Exporter) Wait() {
	first := false
	e.startedRun.Do(func() { first = true })
	if first {
		close(e.runDone)
		return
	}
	<-e.runDone
}

// Status is an exporter's health, as /api/v1/exporters shows it.
type Status struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// State is starting, ok, down, misconfigured or stopped.
	State string `json:"state"`
	// Error is the last error while the state is not ok.
	Error       string     `json:"error,omitempty"`
	ErrorAt     *time.Time `json:"error_at,omitempty"`
	DownSince   *time.Time `json:"down_since,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	// Queue holds points not yet delivered (Queued of at most
	// BufferPoints, QueuedBytes of at most BufferBytes; 0 = no limit).
	Queued       int   `json:"queued"`
	QueuedBytes  int64 `json:"queued_bytes"`
	BufferPoints int   `json:"buffer_points"`
	BufferBytes  int64 `json:"buffer_bytes"`
	// Counters since start: points handed to the exporter, delivered,
	// dropped by a full buffer, rejected by the destination; delivery
	// attempts and failed ones.
	Received  uint64 `json:"received"`
	Delivered uint64 `json:"delivered"`
	Dropped   uint64 `json:"dropped"`
	Rejected  uint64 `json:"rejected"`
	Attempts  uint64 `json:"attempts"`
	Failures  uint64 `json:"failures"`
	// SendSeconds is the total time spent in successful deliveries.
	SendSeconds float64 `json:"send_seconds"`
}

// Status returns the exporter's current health and counters.
func (e *Exporter) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.q.Stats()
	s := Status{
		Name: e.opt.Name, Kind: e.dest.Kind(), Target: e.dest.Target(), State: e.state,
		Queued: st.Len, QueuedBytes: st.Bytes, BufferPoints: st.MaxItems, BufferBytes: st.MaxBytes,
		Received: st.Pushed, Delivered: st.Delivered - e.rejected.Load(), Dropped: st.Dropped,
		Rejected: e.rejected.Load(), Attempts: e.attempts.Load(), Failures: e.failures.Load(),
		SendSeconds: float64(e.sendNanos.Load()) / 1e9,
	}
	if e.state != StateOK && e.state != StateStopped {
		s.Error = e.lastErr
		if s.Error == "" {
			s.Error = e.checkErr
		}
		if !e.lastErrAt.IsZero() {
			t := e.lastErrAt.UTC()
			s.ErrorAt = &t
		}
		if !e.downSince.IsZero() {
			t := e.downSince.UTC()
			s.DownSince = &t
		}
	}
	if !e.lastOK.IsZero() {
		t := e.lastOK.UTC()
		s.LastSuccess = &t
	}
	return s
}

// String describes the exporter for logs.
func (e *Exporter) String() string {
	return fmt.Sprintf("%s (%s %s)", e.opt.Name, e.dest.Kind(), e.dest.Target())
}
