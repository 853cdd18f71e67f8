package schema

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	wantNames := []string{"0001_initial.sql", "0002_sh_events.sql", "0003_views.sql", "0004_sh_events_open.sql", "0005_runs_pusher.sql", "0006_sh_events_log_truncated.sql", "0007_failure_kind_executor.sql", "0008_notifications.sql", "0009_runs_reported.sql", "0010_pipeline_jobs.sql"}
	if got, want := len(ms), len(wantNames); got != want {
		t.Fatalf("got %d migrations, want %d", got, want)
	}
	for i, m := range ms {
		if got, want := m.Version, i+1; got != want {
			t.Errorf("migration %d: got version %d, want %d", i, got, want)
		}
		if got, want := m.Name, wantNames[i]; got != want {
			t.Errorf("migration %d: got name %q, want %q", i, got, want)
		}
		if !strings.Contains(m.SQL, "CREATE ") && !strings.Contains(m.SQL, "ALTER TABLE ") {
			t.Errorf("migration %s: SQL has no CREATE or ALTER TABLE statement", m.Name)
		}
	}
}

func TestMigrations_Load(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int
		wantErr string
	}{
		{
			name:  "SortedNumerically",
			files: fstest.MapFS{"10_j.sql": sql, "2_b.sql": sql, "1_a.sql": sql, "3_c.sql": sql, "4_d.sql": sql, "5_e.sql": sql, "6_f.sql": sql, "7_g.sql": sql, "8_h.sql": sql, "9_i.sql": sql},
			want:  []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		},
		{name: "IgnoresOtherFiles", files: fstest.MapFS{"0001_a.sql": sql, "README.md": sql}, want: []int{1}},
		{name: "Empty", files: fstest.MapFS{}, want: []int{}},
		{name: "NoPrefix", files: fstest.MapFS{"initial.sql": sql}, wantErr: "not NNNN_description.sql"},
		{name: "NotANumber", files: fstest.MapFS{"abc_initial.sql": sql}, wantErr: `prefix "abc"`},
		{name: "Zero", files: fstest.MapFS{"0000_initial.sql": sql}, wantErr: "not a positive number"},
		{name: "Gap", files: fstest.MapFS{"0001_a.sql": sql, "0003_c.sql": sql}, wantErr: "0003_c.sql: version 3, want 2"},
		{name: "Repeat", files: fstest.MapFS{"0001_a.sql": sql, "0001_b.sql": sql}, wantErr: "version 1, want 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := load(tt.files)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			got := make([]int, len(ms))
			for i, m := range ms {
				got[i] = m.Version
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got versions %v, want %v", got, tt.want)
			}
		})
	}
}
