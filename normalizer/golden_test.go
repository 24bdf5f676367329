package normalizer

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// assertGolden compares a canonical event with a hand-written expected file: raw_data
// must be the entry as received (wantRaw), everything else must equal the file.
func assertGolden(t *testing.T, event []byte, wantRaw, expectedPath string) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(event, &got); err != nil {
		t.Fatal(err)
	}
	if got["raw_data"] != wantRaw {
		t.Errorf("raw_data is not the entry as received: %v", got["raw_data"])
	}
	delete(got, "raw_data")
	wantB, err := os.ReadFile(expectedPath)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(wantB, &want); err != nil {
		t.Fatalf("%s: %v", expectedPath, err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("mapping differs from %s:\n got: %s", expectedPath, g)
	}
}
