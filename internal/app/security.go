package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/web"
)

// apiSecurity is what `satellite serve` needs to let only the right
// people at the API: the tokens, the audit log, and TLS.
type apiSecurity struct {
	tokens *auth.TokenStore
	audit  *auth.AuditLog
	certs  *web.CertReloader // nil without TLS
	tls    *tls.Config
}

// openSecurity opens the token store and the audit log next to the state
// file, loads the TLS certificate, and on the first start (no tokens)
// creates an admin token, written to a 0600 file whose path (not the
// token) is logged.
func openSecurity(cfg config.Config, log *slog.Logger) (*apiSecurity, error) {
	tokens, err := auth.OpenTokenStore(cfg.TokensFile(), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w (is another satellite using it?)", err)
	}
	a := &apiSecurity{tokens: tokens}
	if a.audit, err = auth.OpenAuditLog(cfg.AuditFile()); err != nil {
		a.close()
		return nil, err
	}
	if tokens.Len() == 0 {
		if err := bootstrapToken(tokens, cfg.BootstrapTokenFile()); err != nil {
			a.close()
			return nil, err
		}
		log.Warn("no API tokens yet: created the admin token \"admin\"; read it from the file, then create your own and revoke this one",
			"file", cfg.BootstrapTokenFile(), "use", "export SATELLITE_TOKEN=$(cat "+cfg.BootstrapTokenFile()+")")
	}
	log.Info("api credentials", "tokens", tokens.Path(), "count", tokens.Len(), "audit_log", a.audit.Path(), "open_paths", cfg.HTTP.OpenPaths)
	if cfg.HTTP.TLS.Enabled() {
		if a.certs, err = web.NewCertReloader(cfg.HTTP.TLS.Cert, cfg.HTTP.TLS.Key); err != nil {
			a.close()
			return nil, err
		}
		if a.tls, err = a.certs.TLSConfig(cfg.HTTP.TLS.ClientCA); err != nil {
			a.close()
			return nil, err
		}
	}
	return a, nil
}

// bootstrapToken creates the first admin token and writes it to file
// (0600, replacing an old one).
func bootstrapToken(tokens *auth.TokenStore, file string) error {
	secret, _, err := tokens.Create("admin", auth.RoleAdmin, "bootstrap", true)
	if err != nil {
		return err
	}
	_ = os.Remove(file) // a file of another owner or mode is not reused
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		_ = tokens.Revoke("admin")
		return fmt.Errorf("writing the first admin token: %w", err)
	}
	_, err = f.WriteString(secret + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = tokens.Revoke("admin")
		return fmt.Errorf("writing the first admin token to %s: %w", file, err)
	}
	return nil
}

// options are the server's security settings.
func (a *apiSecurity) options(cfg config.Config) []web.Option {
	hosts := append([]string(nil), cfg.HTTP.Hosts...)
	if h, _, err := net.SplitHostPort(cfg.HTTP.Addr); err == nil && h != "" && net.ParseIP(h) == nil {
		hosts = append(hosts, h) // the name it is bound by
	}
	return []web.Option{
		web.WithSecurity(web.Security{Tokens: a.tokens, Audit: a.audit, OpenPaths: cfg.HTTP.OpenPaths,
			Hosts: hosts, Origins: cfg.HTTP.Origins, CertRoles: cfg.ClientRoles()}),
		web.WithStream(web.StreamConfig{MaxClients: cfg.HTTP.MaxStreamClients, AllowedOrigins: cfg.HTTP.Origins}),
	}
}

// listen opens the HTTP listener: TCP, at most http.max_connections
// connections, TLS when configured.
func (a *apiSecurity) listen(cfg config.Config, log *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	var out net.Listener = web.LimitListener(ln, cfg.HTTP.MaxConnections, log.With("component", "http"))
	if a.tls != nil {
		out = tls.NewListener(out, a.tls)
	}
	return out, nil
}

// scheme is http or https.
func (a *apiSecurity) scheme() string {
	if a.tls != nil {
		return "https"
	}
	return "http"
}

// reloadOnHUP reads the TLS certificate again on every SIGHUP until ctx ends.
func (a *apiSecurity) reloadOnHUP(ctx context.Context, log *slog.Logger) {
	if a.certs == nil {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := a.certs.Reload(); err != nil {
					log.Error("TLS certificate not reloaded; the previous one stays in use", "err", err)
					continue
				}
				c := a.certs.Current()
				log.Info("TLS certificate reloaded", "subject", c.Leaf.Subject.String(), "not_after", c.Leaf.NotAfter)
			}
		}
	}()
}

func (a *apiSecurity) close() {
	if a.audit != nil {
		_ = a.audit.Close()
	}
	if a.tokens != nil {
		_ = a.tokens.Close()
	}
}
