package cluster

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/cluster/etcdtest"
	"github.com/satellite-sdn/satellite/lldp"
)

// Instances starting together agree on one LLDP key, the one stored
// first; a later instance reads it; another cluster has its own.
func TestLLDPKeyShared(t *testing.T) {
	endpoints := etcdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 5
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		cli := dial(t, endpoints) // one client each, as instances have
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := LLDPKey(ctx, cli, "c1")
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, k := range keys {
		if len(k) < lldp.MinSecretLen {
			t.Fatalf("instance %d: key of %d bytes", i, len(k))
		}
		if !bytes.Equal(k, keys[0]) {
			t.Fatalf("instance %d has key %q, instance 0 %q", i, k, keys[0])
		}
	}
	cli := dial(t, endpoints)
	later, err := LLDPKey(ctx, cli, "c1")
	if err != nil || !bytes.Equal(later, keys[0]) {
		t.Fatalf("a later instance: %q, %v; want %q", later, err, keys[0])
	}
	other, err := LLDPKey(ctx, cli, "c2")
	if err != nil || bytes.Equal(other, keys[0]) {
		t.Fatalf("another cluster: %q, %v; want a key of its own", other, err)
	}

	// A probe one instance signs, another verifies.
	a, err := lldp.NewSigner(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := lldp.NewSigner(later)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := a.Encode(lldp.Probe{DPID: 0x1, Port: 2, Sent: time.Now()}, []byte{2, 0, 0, 0, 0, 1}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := b.Verify(frame, time.Now(), time.Minute); err != nil || p.DPID != 1 || p.Port != 2 {
		t.Fatalf("verify with the shared key: %+v, %v", p, err)
	}
	c, err := lldp.NewSigner(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(frame, time.Now(), time.Minute); err == nil {
		t.Fatal("another cluster's key verified the probe")
	}
}

// A key too short to sign with is refused with what to do, not used.
func TestLLDPKeyTooShort(t *testing.T) {
	cli := dial(t, etcdtest.Start(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, Prefix("c1")+LLDPKeyKey, "short"); err != nil {
		t.Fatal(err)
	}
	_, err := LLDPKey(ctx, cli, "c1")
	if err == nil || !strings.Contains(err.Error(), "etcdctl del") {
		t.Fatalf("a 5-byte key: %v; want an error saying to delete it", err)
	}
}
