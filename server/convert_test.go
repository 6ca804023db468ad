package server

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/storetest"
)

// TestDatabaseWithCredentialsCopiesEveryField checks the field-by-field copy
// of toDatabaseWithCredentials against a JSON round trip from
// toDatabase(d, true), which cannot forget a field the generator adds.
func TestDatabaseWithCredentialsCopiesEveryField(t *testing.T) {
	s := &Server{}
	d := storetest.NewDatabase("db-1", "owner@example.com", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	d.ReadRegions = []string{"us-west-1"}
	got := s.toDatabaseWithCredentials(d)

	var want gen.DatabaseWithCredentials
	b, err := json.Marshal(s.toDatabase(d, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		t.Errorf("field-by-field copy differs from the JSON round trip:\n got %s\nwant %s", gj, b)
	}
	// Every field the round trip fills must be filled: a zero field in
	// want means the test database does not exercise it.
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; v.Field(i).IsZero() && name != "NextDailyBackupTime" {
			t.Errorf("%s is zero in the reference: set it in the test database", name)
		}
	}
}
