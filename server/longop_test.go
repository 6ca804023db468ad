package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/gen"
)

// TestBackupOutlivesWriteTimeout: create-backup and restore-backup of a
// database that takes longer to stream than the API server's write timeout
// still answer 200 (the server would otherwise close the connection
// unanswered, EOF for the client), while the timeout still holds for other
// requests.
func TestBackupOutlivesWriteTimeout(t *testing.T) {
	s := newStack(t, planeKinds(t)[0], t.TempDir())
	db := s.create("big", false)
	fillBig(t, s.connect(db, *db.Password), 32, 0) // 32 MiB of random bytes: gzip takes its time

	ts := httptest.NewUnstartedServer(s.srv.Handler())
	ts.Config.WriteTimeout = 50 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	client, err := gen.NewClientWithResponses(ts.URL+"/v2", gen.WithRequestEditorFn(basicAuth))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	started := time.Now()
	created, err := client.CreateBackupWithResponse(ctx, db.DatabaseId, gen.CreateBackupJSONRequestBody{Name: "big"})
	if err != nil || created.StatusCode() != http.StatusOK {
		t.Fatalf("create-backup past the write timeout: %v %v", err, created)
	}
	if took := time.Since(started); took < ts.Config.WriteTimeout {
		t.Skipf("the backup took %v, within the %v timeout: nothing to show", took, ts.Config.WriteTimeout)
	}
	list, err := client.ListBackupWithResponse(ctx, db.DatabaseId)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 1 {
		t.Fatalf("list-backup: %v %v", err, list)
	}
	restored, err := client.RestoreBackupWithResponse(ctx, db.DatabaseId, gen.RestoreBackupJSONRequestBody{BackupId: (*list.JSON200)[0].BackupId})
	if err != nil || restored.StatusCode() != http.StatusOK {
		t.Fatalf("restore-backup past the write timeout: %v %v", err, restored)
	}
}

func basicAuth(_ context.Context, req *http.Request) error {
	req.SetBasicAuth(email, apiKey)
	return nil
}
