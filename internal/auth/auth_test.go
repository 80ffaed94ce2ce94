package auth_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/internal/auth"
)

func TestTokenStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tokens.db")
	st, err := auth.OpenTokenStore(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	secret, tok, err := st.Create("ops", auth.RoleOperator, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, auth.TokenPrefix) || len(secret) != len(auth.TokenPrefix)+43 || tok.Hash != auth.HashSecret(secret) {
		t.Fatalf("secret %q token %+v", secret, tok)
	}
	if got, ok := st.Lookup(secret); !ok || got.Name != "ops" || got.Role != auth.RoleOperator {
		t.Fatalf("lookup %+v %v", got, ok)
	}
	for _, bad := range []string{"", secret[:len(secret)-1], secret + "x", strings.ToUpper(secret), tok.Hash} {
		if _, ok := st.Lookup(bad); ok {
			t.Errorf("lookup %q succeeded", bad)
		}
	}
	if _, _, err := st.Create("ops", auth.RoleAdmin, "", false); !errors.Is(err, auth.ErrTokenExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, _, err := st.Create("bad name", auth.RoleAdmin, "", false); err == nil {
		t.Fatal("a name with a space")
	}
	// a second process cannot open the store while it is held
	if _, err := auth.OpenTokenStore(path, 50*time.Millisecond); !errors.Is(err, auth.ErrStoreLocked) {
		t.Fatalf("second open: %v", err)
	}
	st.Close()
	// kept hashed: the file holds the hash, never the secret; 0600
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(secret[len(auth.TokenPrefix):])) || !bytes.Contains(raw, []byte(tok.Hash)) {
		t.Fatal("the store file holds the secret, or not its hash")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// it survives a reopen; revoking ends it
	st, err = auth.OpenTokenStore(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.Lookup(secret); !ok {
		t.Fatal("lost on reopen")
	}
	replaced, _, err := st.Create("ops", auth.RoleViewer, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Lookup(secret); ok {
		t.Fatal("the replaced secret still works")
	}
	if err := st.Revoke("ops"); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Lookup(replaced); ok || st.Len() != 0 {
		t.Fatal("revoked token works")
	}
	if err := st.Revoke("ops"); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
}

func TestAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := auth.OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := l.Append(auth.AuditEntry{User: "a", Role: auth.RoleAdmin, Method: "POST", Path: "/x", Status: 200 + i}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	// a torn last line (a crash mid-write) is skipped; numbering goes on
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":4,"us`)
	f.Close()
	l, err = auth.OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(auth.AuditEntry{Method: "DELETE", Path: "/y", Status: 401}); err != nil {
		t.Fatal(err)
	}
	es, err := l.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 || es[2].Status != 202 || es[0].Role != auth.RoleAdmin || es[1].Seq != 2 || es[3].Seq != 4 || es[3].Path != "/y" {
		t.Fatalf("%+v", es)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}
