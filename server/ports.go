package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// ParsePortRange reads a port range written MIN-MAX, such as 16380-17379:
// the form of devapi serve's --ports and of the load harness's.
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	minPort, err1 := strconv.Atoi(lo)
	maxPort, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || minPort < 1 || maxPort > 65535 || minPort > maxPort {
		return PortRange{}, fmt.Errorf("a port range is MIN-MAX within 1-65535, like 16380-17379, not %q", s)
	}
	return PortRange{Min: minPort, Max: maxPort}, nil
}

// The server's side of placement (internal/placement): a create on a plane
// of devapi's range reserves a port, then marks it stored, or releases it
// if the create fails; a delete releases it.

// reservePort reserves the lowest free port of the range. ECONFLICT when
// the range is full.
func (s *Server) reservePort(ctx context.Context) (int, error) { return s.portAlloc.Reserve(ctx) }

// storedPort ends the reservation of port: its database is stored.
func (s *Server) storedPort(port int) { s.portAlloc.Stored(port) }

// releasePort frees port; busy says another process holds it now.
func (s *Server) releasePort(port int, busy bool) { s.portAlloc.Release(port, busy) }

// storedPorts answers the ports of the stored databases.
func (s *Server) storedPorts(ctx context.Context) ([]int, error) {
	all, err := s.store.AllDatabases(ctx)
	if err != nil {
		return nil, err
	}
	ports := make([]int, len(all))
	for i, d := range all {
		ports[i] = d.Port
	}
	return ports, nil
}
