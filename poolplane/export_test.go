package poolplane

import "context"

// CheckWiped runs on the server key the check Remove makes after it wipes
// a server, as if the newest slowlog entry before the wipe were lastSlow.
// For tests.
func (p *Plane) CheckWiped(ctx context.Context, key string, lastSlow int64) error {
	return p.servers[key].checkWiped(ctx, lastSlow)
}

// BeforeWipeCheck makes every wipe on the server key call f between its
// commands and its check. For tests.
func (p *Plane) BeforeWipeCheck(key string, f func(context.Context)) {
	p.servers[key].beforeCheck = f
}
