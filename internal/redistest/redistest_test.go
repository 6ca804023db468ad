package redistest_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/internal/tlsca"
)

// TestStart starts each kind of server the kit offers and talks to it as a
// client configured from its URL would.
func TestStart(t *testing.T) {
	ca, _, err := tlsca.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := ca.ServerConfig([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    redistest.Options
	}{
		{"plain", redistest.Options{}},
		{"admin", redistest.Options{Admin: "devapi-admin"}},
		{"tls admin", redistest.Options{TLS: tlsCfg, Admin: "devapi-admin"}},
		{"acl file", redistest.Options{Admin: "devapi-admin", ACLFile: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := redistest.Start(t, c.o)
			opt, err := redis.ParseURL(s.URL())
			if err != nil {
				t.Fatal(err)
			}
			if opt.TLSConfig != nil {
				opt.TLSConfig.RootCAs = ca.Pool()
			}
			rc := redis.NewClient(opt)
			t.Cleanup(func() { _ = rc.Close() })
			if err := rc.Set(t.Context(), "k", "v", 0).Err(); err != nil {
				t.Fatalf("SET through %s: %v", s.URL(), err)
			}
			if c.o.Admin != "" {
				anon := redis.NewClient(&redis.Options{Addr: s.Addr(), TLSConfig: opt.TLSConfig, MaxRetries: -1})
				t.Cleanup(func() { _ = anon.Close() })
				if err := anon.Ping(t.Context()).Err(); err == nil {
					t.Errorf("the default user answers on a server with an admin user")
				}
			}
			s.Restart(t)
			if err := s.Client(t).Ping(t.Context()).Err(); err != nil {
				t.Errorf("after Restart: %v", err)
			}
		})
	}
}

// TestPorts: two claims of one test never overlap.
func TestPorts(t *testing.T) {
	lo1, hi1 := redistest.Ports(t, 100)
	lo2, hi2 := redistest.Ports(t, 10)
	if hi1-lo1+1 < 100 || hi2-lo2+1 < 10 {
		t.Fatalf("claims %d-%d, %d-%d are smaller than asked", lo1, hi1, lo2, hi2)
	}
	if lo1 <= hi2 && lo2 <= hi1 {
		t.Errorf("claims %d-%d and %d-%d overlap", lo1, hi1, lo2, hi2)
	}
}
