package redisserverplane

import (
	"context"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/redismonitor"
)

var _ devapi.Monitorer = (*Plane)(nil)

// Monitor implements devapi.Monitorer: devapi-admin runs MONITOR on the
// database's redis-server (its default user may not), and the lines of the
// default user's connections and of its scripts are passed on
// (redismonitor); devapi-admin's own are not. The monitor's connection
// counts against the process's maxclients while it runs, and ends
// (EUNAVAILABLE) when the process stops or restarts.
func (p *Plane) Monitor(ctx context.Context, id string, emit func(line string) error) error {
	in, err := p.running(id)
	if err != nil {
		return err
	}
	secret, err := adminSecret(in.dir)
	opt := p.adminOptions(in.spec, secret, nil)
	admin := in.admin
	in.mu.Unlock()
	if err != nil {
		return err
	}
	return redismonitor.Run(ctx, redismonitor.Config{
		Addr:     opt.Addr,
		TLS:      opt.TLSConfig,
		Username: opt.Username,
		Password: opt.Password,
		Clients:  func(ctx context.Context) (string, error) { return admin.ClientList(ctx).Result() },
	}, emit)
}
