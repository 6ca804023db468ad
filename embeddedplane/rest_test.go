package embeddedplane_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/restapi"
	"github.com/devapi-dev/devapi/sqlitestore"
)

// TestSDKCallsOverREST sends the calls an @upstash/redis user makes of the
// commands the embedded plane adds (HEXPIRE and HTTL, FUNCTION LOAD and
// FCALL, BITFIELD, TTL of a fresh EX 60) through the REST API, as the SDK
// sends them: POST / with the command as a JSON array.
func TestSDKCallsOverREST(t *testing.T) {
	ctx := t.Context()
	p, d, _ := scriptDB(t, devapi.PlaneConfig{})
	// A password as devapi makes them: the full REST token carries it,
	// and the store finds the token's database only in tokens so made.
	d.Password, d.Generation = devapi.NewPassword(), d.Generation+1
	if err := p.SetPassword(ctx, d.ID, d.Password, d.Generation); err != nil {
		t.Fatal(err)
	}
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "devapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	const owner = "dev@example.com"
	if err := store.CreateAccount(ctx, &devapi.Account{Email: owner, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db := &devapi.Database{
		ID: d.ID, Name: "sdk", Owner: owner, Platform: "aws", PrimaryRegion: "us-east-1", Plan: devapi.PlanFree,
		State: "active", Endpoint: "127.0.0.1", Port: d.Port, CreatedAt: time.Now(),
		Credentials: devapi.Credentials{Password: d.Password},
	}
	db.RestToken, db.ReadOnlyRestToken = devapi.NewRestTokens(db.ID, db.Port, db.Password)
	if err := store.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	rest, err := restapi.New(restapi.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(rest.Handler())
	t.Cleanup(func() { hs.Close(); _ = rest.Close() })

	do := func(args ...any) string {
		t.Helper()
		body, _ := json.Marshal(args)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+db.RestToken)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return string(bytes.TrimSpace(b))
	}
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"hset", "user", "name", "ada", "session", "s1"}, `{"result":2}`},
		{[]any{"hexpire", "user", 60, "FIELDS", 1, "session"}, `{"result":[1]}`},
		{[]any{"httl", "user", "FIELDS", 2, "session", "name"}, `{"result":[60,-1]}`},
		{[]any{"function", "load", "#!lua name=sdk\nredis.register_function('hello', function(keys, args) return 'hello ' .. args[1] end)"}, `{"result":"sdk"}`},
		{[]any{"fcall", "hello", 0, "ada"}, `{"result":"hello ada"}`},
		{[]any{"bitfield", "bits", "SET", "u8", 0, 255, "INCRBY", "u8", 0, 1, "GET", "u4", 0}, `{"result":[0,0,0]}`},
		{[]any{"bitfield_ro", "bits", "GET", "u8", 0}, `{"result":[0]}`},
		{[]any{"set", "session:1", "x", "EX", 60}, `{"result":"OK"}`},
		{[]any{"ttl", "session:1"}, `{"result":60}`},
	} {
		if got := do(tc.args...); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.args, got, tc.want)
		}
	}
}
