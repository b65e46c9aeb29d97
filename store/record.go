package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// DecodeRecord reads a run's domain record (Run.Data) into a T. A run without one gives T's zero
// value. Each domain keeps one record type per run kind (deploy's runData, incident's record).
func DecodeRecord[T any](run Run) (T, error) {
	var v T
	if len(run.Data) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(run.Data, &v); err != nil {
		return v, fmt.Errorf("decoding the record of run %d: %w", run.ID, err)
	}
	return v, nil
}

// EncodeRecord stores v as the run's domain record.
func EncodeRecord[T any](run *Run, v T) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the record of run %d: %w", run.ID, err)
	}
	run.Data = data
	return nil
}

// UpdateRecord is UpdateRun for a run and its typed record: mutate gets both, freshly read, and
// the record is stored back with the run. It returns the stored run and record.
func UpdateRecord[T any](ctx context.Context, st Store, id int64, mutate func(*Run, *T) error) (Run, T, error) {
	var out T
	run, err := st.UpdateRun(ctx, id, func(r *Run) error {
		v, err := DecodeRecord[T](*r)
		if err != nil {
			return err
		}
		if err := mutate(r, &v); err != nil {
			return err
		}
		out = v
		return EncodeRecord(r, v)
	})
	return run, out, err
}
