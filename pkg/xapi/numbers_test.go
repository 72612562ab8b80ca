package xapi

import (
	"math/big"
	"testing"
)

func TestDecimalCompareMatchesBigRat(t *testing.T) {
	lits := []string{"0", "-0", "0.0", "1", "1.0", "1.00e0", "10", "1e1", "0.1e2", "100e-1", "-1", "-1.5", "-1.50",
		"0.85", "85e-2", "0.0001", "1e-4", "123456789012345678901234567890", "1.2345678901234567890123e29",
		"9007199254740991", "9007199254740992", "9007199254740991.0", "9007199254740991.5", "-0.000", "5E+3", "5000", "4999.9999"}
	for _, x := range lits {
		for _, y := range lits {
			rx, _ := new(big.Rat).SetString(x)
			ry, _ := new(big.Rat).SetString(y)
			want := rx.Cmp(ry)
			if got := parseDecimal([]byte(x)).cmp(parseDecimal([]byte(y))); got != want {
				t.Errorf("cmp(%s, %s) = %d, want %d", x, y, got, want)
			}
		}
		rx, _ := new(big.Rat).SetString(x)
		if got := parseDecimal([]byte(x)).isInt(); got != rx.IsInt() {
			t.Errorf("isInt(%s) = %v, want %v", x, got, rx.IsInt())
		}
	}
}

func TestDecimalHugeExponentsAreCheap(t *testing.T) {
	tiny := parseDecimal([]byte("1e-999999999999"))
	huge := parseDecimal([]byte("1e999999999999"))
	one := parseDecimal([]byte("1"))
	if tiny.cmp(one) >= 0 || huge.cmp(one) <= 0 || tiny.isInt() || !huge.isInt() {
		t.Errorf("tiny/huge compare wrong: %v %v", tiny, huge)
	}
}
