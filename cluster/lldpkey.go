package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/satellite-sdn/satellite/lldp"
)

// LLDPKeyKey is where a cluster keeps its LLDP signing key, under
// Prefix(name).
const LLDPKeyKey = "lldp/key"

// LLDPKey returns the cluster's LLDP signing key, the one every instance
// signs and verifies its probes with, so that a probe sent by one
// instance's switch is believed by the instance that masters the switch
// receiving it. The first instance to ask generates it (32 random bytes,
// stored as hex, so that `etcdctl get` prints a usable secret_file) in a
// transaction that stores it only if no other instance stored one first;
// the others read that one.
func LLDPKey(ctx context.Context, cli *clientv3.Client, name string) ([]byte, error) {
	k := Prefix(name) + LLDPKeyKey
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("lldp key: %w", err)
	}
	fresh := hex.EncodeToString(raw)
	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, fresh)).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("lldp key %s in etcd: %w", k, err)
	}
	if resp.Succeeded {
		return []byte(fresh), nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 { // deleted between the compare and the get: cannot happen in one transaction
		return nil, fmt.Errorf("lldp key %s in etcd: not found", k)
	}
	key := []byte(strings.TrimSpace(string(kvs[0].Value)))
	if len(key) < lldp.MinSecretLen {
		return nil, fmt.Errorf("lldp key %s in etcd holds %d bytes; want at least %d (delete it, `etcdctl del %s`, and the next instance to start stores a new one)",
			k, len(key), lldp.MinSecretLen, k)
	}
	return key, nil
}
