package main

// satellite token create|list|revoke and satellite audit-log.
//
// The token commands work on the token store next to the state file when
// no server holds it (before the first start, or with the server
// stopped), and through the API (an admin token) when a server is running
// or --server is given.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/auth"
)

// EnvCAFile names the CA file the CLI trusts for https servers.
const EnvCAFile = "SATELLITE_CA_FILE"

// httpClient returns the CLI's HTTP client: the system's CAs, or those of
// caFile.
func httpClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}, nil
}

// storeFlags are how the token commands find the local store.
type storeFlags struct{ config, stateFile *string }

func addStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		config:    fs.String("config", "", "configuration `file` whose state_file locates the token store (default $"+config.EnvConfig+")"),
		stateFile: fs.String("state-file", "", "the server's state `file`; the tokens are kept next to it (default $"+config.EnvStateFile+" or the config's)"),
	}
}

// local is the token store and the audit log next to the state file,
// used when no server holds them.
type local struct {
	*auth.TokenStore
	auditFile string
}

// audit appends a local change to the audit log (the server is not
// running: nobody else writes it).
func (l *local) audit(method, path string, status int, msg string) {
	a, err := auth.OpenAuditLog(l.auditFile)
	if err != nil {
		return
	}
	defer a.Close()
	_ = a.Append(auth.AuditEntry{User: localUser(), Role: auth.RoleAdmin, Via: "local", Method: method, Path: path, Status: status, Remote: "local", Error: msg})
}

func localUser() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// open returns the local token store, or nil when the API is to be used:
// --server was given, or a running server holds the store.
func (f storeFlags) open(s *session) (*local, error) {
	if s.server {
		return nil, nil
	}
	cfg, err := config.Load(*f.config)
	if err != nil {
		return nil, err
	}
	if *f.stateFile != "" {
		cfg.StateFile = *f.stateFile
	}
	st, err := auth.OpenTokenStore(cfg.TokensFile(), 300*time.Millisecond)
	switch {
	case errors.Is(err, auth.ErrStoreLocked):
		return nil, nil // a running server: ask it
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("%w: run as the user satellite runs as, or go through the API of a running server with --server URL and an admin --token", err)
	case err != nil:
		return nil, err
	}
	return &local{TokenStore: st, auditFile: cfg.AuditFile()}, nil
}

func setupTokenCreate(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	role := fs.String("role", "", "the token's `role`: viewer (reads, the stream), operator (also flows, traces, alert rules) or admin (also virtual networks, tokens, the audit log)")
	replace := fs.Bool("replace", false, "replace a token of the same name (the old secret stops working)")
	sf := addStoreFlags(fs)
	return func(ctx context.Context, s *session, args []string) error {
		r, err := auth.ParseRole(*role)
		if err != nil {
			return fmt.Errorf("--role: %w", err)
		}
		st, err := sf.open(s)
		if err != nil {
			return err
		}
		var out api.CreatedToken
		if st != nil {
			defer st.Close()
			secret, t, err := st.Create(args[0], r, localUser(), *replace)
			if err != nil {
				st.audit("POST", "/api/v1/tokens", 409, err.Error())
				return err
			}
			st.audit("POST", "/api/v1/tokens", 201, "")
			t.Hash = ""
			out = api.CreatedToken{Token: t, Secret: secret}
		} else if out, err = s.cl.CreateToken(ctx, api.CreateTokenRequest{Name: args[0], Role: r, Replace: *replace}); err != nil {
			return err
		}
		return s.print(out, func(w io.Writer) { fmt.Fprintln(w, out.Secret) })
	}
}

func setupTokenList(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	sf := addStoreFlags(fs)
	return func(ctx context.Context, s *session, _ []string) error {
		st, err := sf.open(s)
		if err != nil {
			return err
		}
		var list []auth.Token
		if st != nil {
			defer st.Close()
			list = st.List()
		} else if list, err = s.cl.Tokens(ctx); err != nil {
			return err
		}
		return s.print(list, func(w io.Writer) {
			if len(list) == 0 {
				fmt.Fprintln(w, "no tokens (satellite serve creates an admin token at its first start)")
				return
			}
			fmt.Fprintln(w, "NAME\tROLE\tCREATED\tBY")
			for _, t := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.Created.Local().Format(time.DateTime), orDash(t.CreatedBy))
			}
		})
	}
}

func setupTokenRevoke(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	sf := addStoreFlags(fs)
	return func(ctx context.Context, s *session, args []string) error {
		st, err := sf.open(s)
		if err != nil {
			return err
		}
		if st != nil {
			defer st.Close()
			err = st.Revoke(args[0])
			if err != nil {
				st.audit("DELETE", "/api/v1/tokens/"+args[0], 404, err.Error())
			} else {
				st.audit("DELETE", "/api/v1/tokens/"+args[0], 200, "")
			}
		} else {
			err = s.cl.RevokeToken(ctx, args[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "token %s revoked\n", args[0])
		return nil
	}
}

func setupAuditLog(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	limit := fs.Int("limit", 50, "the newest `N` entries (0: all)")
	after := fs.String("after", "", "only entries after this `cursor` (X-Next-After of a previous page)")
	sf := addStoreFlags(fs)
	return func(ctx context.Context, s *session, _ []string) error {
		var list []auth.AuditEntry
		st, err := sf.open(s)
		if err != nil {
			return err
		}
		if st != nil { // no server running: the file itself
			st.Close()
			if list, err = auth.ReadAudit(st.auditFile); errors.Is(err, os.ErrNotExist) {
				list, err = nil, nil
			}
			if err != nil {
				return err
			}
			if *after != "" {
				return fmt.Errorf("--after needs a running server (it pages through the API); use --limit")
			}
			if *limit > 0 && len(list) > *limit {
				list = list[len(list)-*limit:]
			}
		} else if list, err = s.cl.AuditLog(ctx, *limit, *after); err != nil {
			return err
		}
		return s.print(list, func(w io.Writer) {
			if len(list) == 0 {
				fmt.Fprintln(w, "no state-changing requests recorded")
				return
			}
			fmt.Fprintln(w, "TIME\tUSER\tROLE\tVIA\tMETHOD\tPATH\tSTATUS\tREMOTE\tERROR")
			for _, e := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Time.Local().Format(time.DateTime), orDash(e.User), e.Role, e.Via,
					e.Method, e.Path, e.Status, e.Remote, orDash(e.Error))
			}
		})
	}
}
