package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi/pgstore/pgtest"
)

// replicas starts n devapi replicas on one new PostgreSQL database and one
// Redis pool of poolSize servers, with the store URL in a file as an
// operator would keep it.
func replicas(t *testing.T, n, poolSize int, env ...string) (ps []*proc, start func(i int, env ...string) *proc, storeURL string) {
	t.Helper()
	storeURL = pgtest.NewDatabase(t)
	poolFile, _ := startRedisPool(t, poolSize, "")
	datas := make([]string, n)
	for i := range datas {
		datas[i] = t.TempDir()
	}
	start = func(i int, more ...string) *proc {
		return serveArgs(t, []string{"--data", datas[i], "--plane", "pool", "--pool-file", poolFile},
			append(append([]string{envStore + "=" + storeURL}, env...), more...)...)
	}
	for i := range n {
		ps = append(ps, start(i))
	}
	return ps, start, storeURL
}

// ack is one acknowledged reset: its answer, and when it was sent and
// answered.
type ack struct {
	db         dbAnswer
	start, end time.Time
}

// resetStream sends resets of dbs through ps, round robin, from workers
// goroutines, until stop is closed or each worker has sent max. It returns
// the acknowledged ones and how many failed (sent, but no 200 came back).
func resetStream(t *testing.T, ps []*proc, dbs []dbAnswer, workers, max int, stop <-chan struct{}, acked *atomic.Int64) (acks []ack, failed int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range max {
				select {
				case <-stop:
					return
				default:
				}
				p, db := ps[(w+i)%len(ps)], dbs[(w*7+i)%len(dbs)]
				began := time.Now()
				status, body, err := p.call("POST", "/redis/reset-password/"+db.ID, "")
				ended := time.Now()
				var d dbAnswer
				if err == nil && status == http.StatusOK && json.Unmarshal(body, &d) == nil {
					if acked != nil {
						acked.Add(1)
					}
					mu.Lock()
					acks = append(acks, ack{db: d, start: began, end: ended})
					mu.Unlock()
					continue
				}
				mu.Lock()
				failed++
				mu.Unlock()
				if err == nil && status != http.StatusOK {
					t.Errorf("reset through %s: %d %s", p.url, status, body)
				}
			}
		})
	}
	wg.Wait()
	return acks, failed
}

// checkLinearised checks the invariant for every database after concurrent
// resets: what the store holds (read through every replica) is the answer
// of one acknowledged reset that no other acknowledged reset began after it
// completed (or, when allowUnacked, of a reset nobody got an answer for);
// the plane accepts exactly that password and no acknowledged other; the
// REST API of every replica accepts exactly its token and no acknowledged
// other.
func checkLinearised(t *testing.T, ps []*proc, dbs []dbAnswer, acks []ack, allowUnacked bool) {
	t.Helper()
	for _, db := range dbs {
		var mine []ack
		for _, a := range acks {
			if a.db.ID == db.ID {
				mine = append(mine, a)
			}
		}
		stored := ps[0].database("GET", "/redis/database/"+db.ID, "")
		for _, p := range ps[1:] {
			if other := p.database("GET", "/redis/database/"+db.ID, ""); other.Password != stored.Password || other.RestToken != stored.RestToken {
				t.Errorf("%s: replicas disagree on the stored credentials", db.ID)
			}
		}
		i := slices.IndexFunc(mine, func(a ack) bool { return a.db.Password == stored.Password })
		switch {
		case i >= 0:
			if mine[i].db.RestToken != stored.RestToken {
				t.Errorf("%s: stored password of one reset with the token of another", db.ID)
			}
			for _, a := range mine {
				if a.start.After(mine[i].end) {
					t.Errorf("%s: stored credentials are those of a reset that completed at %v, but another acknowledged reset began after it, at %v",
						db.ID, mine[i].end.Format(time.StampMicro), a.start.Format(time.StampMicro))
					break
				}
			}
		case !allowUnacked:
			t.Errorf("%s: the stored password is no acknowledged reset's (of %d)", db.ID, len(mine))
		}

		if err := redisClient(t, stored, stored.Password).Ping(t.Context()).Err(); err != nil {
			t.Errorf("%s: the plane refuses the stored password: %v", db.ID, err)
		}
		for _, a := range mine {
			if a.db.Password == stored.Password {
				continue
			}
			if err := redisClient(t, stored, a.db.Password).Ping(t.Context()).Err(); err == nil {
				t.Errorf("%s: the plane still accepts an overtaken password", db.ID)
				break
			}
		}
		for _, p := range ps {
			if status := restCall(t, p, stored.RestToken); status != http.StatusOK {
				t.Errorf("%s: REST API of %s answers %d to the stored token", db.ID, p.restURL, status)
			}
			for _, a := range mine {
				if a.db.RestToken == stored.RestToken {
					continue
				}
				if status := restCall(t, p, a.db.RestToken); status != http.StatusUnauthorized {
					t.Errorf("%s: REST API of %s answers %d to an overtaken token, want 401", db.ID, p.restURL, status)
					break
				}
			}
		}
		// Nothing lost: the key written before the resets is there.
		if v, err := redisClient(t, stored, stored.Password).Get(t.Context(), "before").Result(); err != nil || v != db.ID {
			t.Errorf("%s: key written before the resets: %q, %v", db.ID, v, err)
		}
	}
}

// checkGenerations checks, in the store itself, that no acknowledged reset
// was lost: every reset moves a database's generation one forward from 1
// (its creation), so it is at least 1 + the resets acknowledged for it
// (more if some committed without their answer arriving).
func checkGenerations(t *testing.T, storeURL string, dbs []dbAnswer, acks []ack) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	for _, db := range dbs {
		acked := 0
		for _, a := range acks {
			if a.db.ID == db.ID {
				acked++
			}
		}
		var gen int64
		if err := conn.QueryRow(t.Context(), `SELECT generation FROM databases WHERE id = $1`, db.ID).Scan(&gen); err != nil {
			t.Fatalf("%s: generation: %v", db.ID, err)
		}
		if gen < int64(1+acked) {
			t.Errorf("%s: stored generation %d, but %d resets were acknowledged: some were lost", db.ID, gen, acked)
		}
	}
}

// restCall sends PING to the REST data API of p with token and returns the
// status.
func restCall(t *testing.T, p *proc, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", p.restURL+"/ping", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("REST call: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// createOnPool creates n databases through p and writes one key into each.
func createOnPool(t *testing.T, p *proc, n int) []dbAnswer {
	t.Helper()
	var dbs []dbAnswer
	for i := range n {
		status, body, err := p.call("POST", "/redis/database", fmt.Sprintf(`{"database_name":"replica-%d","primary_region":"us-east-1","tls":false}`, i))
		if err != nil || status != http.StatusOK {
			t.Fatalf("create database %d of %d: %d %s (%v)\n%s", i+1, n, status, body, err, p.log)
		}
		var db dbAnswer
		if err := json.Unmarshal(body, &db); err != nil {
			t.Fatal(err)
		}
		if err := redisClient(t, db, db.Password).Set(t.Context(), "before", db.ID, 0).Err(); err != nil {
			t.Fatalf("write to a new pool database: %v", err)
		}
		dbs = append(dbs, db)
	}
	return dbs
}

// TestReplicasConcurrentResets runs two replicas on one PostgreSQL and one
// Redis pool and resets the same databases through both at once.
func TestReplicasConcurrentResets(t *testing.T) {
	// A pause between the store commit and the plane lets later resets
	// overtake earlier ones on their way to the plane.
	ps, _, storeURL := replicas(t, 2, 4, envJitter+"=reset-after-store:30ms")
	dbs := createOnPool(t, ps[0], 3)
	for _, db := range dbs { // both replicas serve every database
		if got := ps[1].database("GET", "/redis/database/"+db.ID, ""); got.Password != db.Password {
			t.Fatalf("replica 2 sees %s with another password", db.ID)
		}
	}
	acks, failed := resetStream(t, ps, dbs, 8, 15, nil, nil)
	if failed > 0 || len(acks) != 8*15 {
		t.Fatalf("%d resets acknowledged, %d failed; want all %d", len(acks), failed, 8*15)
	}
	checkLinearised(t, ps, dbs, acks, false)
	checkGenerations(t, storeURL, dbs, acks)

	for i, p := range ps { // no secret in any replica's log
		for _, secret := range []string{poolAdminSecret, acks[0].db.Password, acks[0].db.RestToken, e2eKey} {
			if strings.Contains(p.log.String(), secret) {
				t.Errorf("replica %d's log holds a secret", i+1)
			}
		}
	}

	// The pool has 4 servers: a fourth database fits, a fifth is a clear error.
	createOnPool(t, ps[1], 1)
	status, body, err := ps[0].call("POST", "/redis/database", `{"database_name":"one-too-many","primary_region":"us-east-1","tls":false}`)
	if err != nil || status == http.StatusOK || !strings.Contains(string(body), "pool") {
		t.Errorf("create on a full pool: %d %s (%v); want an error that names the pool", status, body, err)
	}
}

// TestReplicaKilledDuringResets kills one replica (SIGKILL) while both
// take a stream of resets, restarts it, and checks that every acknowledged
// reset survived and that the plane and the REST API match the store.
func TestReplicaKilledDuringResets(t *testing.T) {
	ps, start, storeURL := replicas(t, 2, 3, envJitter+"=reset-after-store:30ms")
	dbs := createOnPool(t, ps[0], 3)
	stop := make(chan struct{})
	var acks []ack
	var acked atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var failed int
		acks, failed = resetStream(t, ps, dbs, 8, 1000, stop, &acked)
		t.Logf("%d resets acknowledged, %d cut off by the kill", len(acks), failed)
	}()
	// Kill replica 1 once resets are flowing through both.
	deadline := time.Now().Add(20 * time.Second)
	for acked.Load() < 40 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = ps[0].cmd.Process.Kill()
	close(stop)
	<-done
	ps[0].waitExit()
	if len(acks) == 0 {
		t.Fatal("no reset was acknowledged before the kill")
	}

	ps[0] = start(0)
	checkLinearised(t, ps, dbs, acks, true)
	checkGenerations(t, storeURL, dbs, acks)
}

// TestSurvivingReplicaRepairsThePlane: a replica dies between its store
// commit and the pool server, leaving the server one password behind the
// store; the replica that lives on re-applies the stored password at its
// next periodic reconcile, without the dead one coming back.
func TestSurvivingReplicaRepairsThePlane(t *testing.T) {
	storeURL := pgtest.NewDatabase(t)
	poolFile, _ := startRedisPool(t, 1, "")
	args := func(extra ...string) []string {
		return append([]string{"--data", t.TempDir(), "--plane", "pool", "--pool-file", poolFile}, extra...)
	}
	dying := serveArgs(t, args(), envStore+"="+storeURL, envCrash+"=reset-after-store")
	living := serveArgs(t, args("--reconcile-every", "200ms"), envStore+"="+storeURL)
	db := createOnPool(t, living, 1)[0]

	if status, body, err := dying.call("POST", "/redis/reset-password/"+db.ID, ""); err == nil {
		t.Fatalf("reset answered %d %s; the replica should have died after its commit", status, body)
	}
	dying.waitExit()
	stored := living.database("GET", "/redis/database/"+db.ID, "")
	if stored.Password == db.Password {
		t.Fatal("the reset did not reach the store before the crash")
	}
	deadline := time.Now().Add(10 * time.Second)
	for redisClient(t, stored, stored.Password).Ping(t.Context()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the pool server still refuses the stored password 10s after the crash\n%s", living.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := redisClient(t, stored, db.Password).Ping(t.Context()).Err(); err == nil {
		t.Error("the pool server still accepts the password of before the stored reset")
	}
	if v, err := redisClient(t, stored, stored.Password).Get(t.Context(), "before").Result(); err != nil || v != db.ID {
		t.Errorf("key after the repair: %q, %v", v, err)
	}
}
