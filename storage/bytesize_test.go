package storage

import "testing"

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		bad  bool
	}{
		{"1024", 1024, false},
		{"10GiB", 10 << 30, false},
		{"16MiB", 16 << 20, false},
		{"2 TB", 2e12, false},
		{"5KB", 5000, false},
		{"0", 0, false},
		{"-1", 0, true},
		{"ten", 0, true},
		{"1.5GiB", 0, true},
		{"9999999999TiB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b ByteSize
			err := b.UnmarshalText([]byte(tt.in))
			if (err != nil) != tt.bad || b != tt.want {
				t.Fatalf("UnmarshalText(%q) = %d, %v", tt.in, b, err)
			}
		})
	}
}
