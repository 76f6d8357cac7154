package durable

import "testing"

func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"6.1.0-18-amd64", true},
		{"5.8.0", true},
		{"5.10.0-28-cloud-amd64", true},
		{"5.7.19", false},
		{"4.19.0-26-amd64", false},
		{"6.18.44-fc-v669", true},
		{"5.8rc1", true},
		{"garbage", false},
	} {
		if got := kernelAtLeast(tc.release, 5, 8); got != tc.want {
			t.Errorf("kernelAtLeast(%q) = %v, want %v", tc.release, got, tc.want)
		}
	}
}
