package poolplane

import (
	"context"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/redismonitor"
)

var _ devapi.Monitorer = (*Plane)(nil)

// Monitor implements devapi.Monitorer: the admin user runs MONITOR on the
// database's pool server, and the lines of the default user's connections
// and of its scripts are passed on (redismonitor); the admin connections of
// every replica, and an operator's, are not. The monitor's connection
// counts against the server's maxclients while it runs. ENOTFOUND if id
// holds no server.
func (p *Plane) Monitor(ctx context.Context, id string, emit func(line string) error) error {
	done, err := p.open()
	if err != nil {
		return err
	}
	srv, _, err := p.assigned(ctx, id)
	done() // not held while the monitor runs: Close would wait for it
	if err != nil {
		return err
	}
	opt := srv.admin.Options()
	return redismonitor.Run(ctx, redismonitor.Config{
		Addr:     opt.Addr,
		TLS:      opt.TLSConfig,
		Username: opt.Username,
		Password: opt.Password,
		Clients:  func(ctx context.Context) (string, error) { return srv.admin.ClientList(ctx).Result() },
	}, emit)
}
