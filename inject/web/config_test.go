package web

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"sample rate high", func(c *Config) { c.Recording.SampleRate = 1.5 }, "recording.sample_rate: 1.5 must be between 0 and 1"},
		{"sample rate negative", func(c *Config) { c.Recording.SampleRate = -0.1 }, "recording.sample_rate:"},
		{"idle timeout tiny", func(c *Config) { c.Recording.IdleTimeout = time.Second }, "recording.idle_timeout:"},
		{"max duration zero", func(c *Config) { c.Recording.MaxDuration = 0 }, "recording.max_duration:"},
		{"batch interval", func(c *Config) { c.Recording.BatchInterval = time.Hour }, "recording.batch_interval:"},
		{"batch bytes", func(c *Config) { c.Recording.BatchBytes = 10 }, "recording.batch_bytes: 10 must be between"},
		{"mouse gap", func(c *Config) { c.Recording.MouseMoveGap = time.Millisecond }, "recording.mouse_move_gap:"},
		{"selector with brace", func(c *Config) { c.Recording.UnmaskSelectors = []string{"a{}"} }, "recording.unmask_selectors[0]:"},
		{"empty selector", func(c *Config) { c.Recording.BlockSelectors = []string{" "} }, "recording.block_selectors[0]:"},
		{"query name", func(c *Config) { c.Recording.QueryAllowList = []string{"a b"} }, "recording.query_allow_list[0]:"},
		{"notice url scheme", func(c *Config) { c.Banner.NoticeURL = "javascript:alert(1)" }, "banner.notice_url:"},
		{"notice url protocol relative", func(c *Config) { c.Banner.NoticeURL = "//evil.example/x" }, "banner.notice_url:"},
		{"language code", func(c *Config) { c.Banner.Texts = map[string]BannerText{"EN": {Title: "x"}} }, "banner.texts: language \"EN\""},
		{"new language incomplete", func(c *Config) { c.Banner.Texts = map[string]BannerText{"it": {Title: "Registrazione"}} }, "banner.texts.it.body: must not be empty"},
		{"default language without texts", func(c *Config) { c.Banner.DefaultLanguage = "pt" }, "banner.default_language: \"pt\" has no texts"},
		{"text too long", func(c *Config) { c.Banner.Texts = map[string]BannerText{"en": {Body: strings.Repeat("x", 1001)}} }, "banner.texts.en.body: must be at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	c := DefaultConfig()
	c.Recording.UnmaskSelectors = []string{".public", "[data-public]"}
	c.Recording.QueryAllowList = []string{"page", "utm_source", "filter[]"}
	c.Recording.SampleRate = 0
	c.Banner.NoticeURL = "https://example.com/privacy?x=1"
	c.Banner.Texts = map[string]BannerText{
		"en": {Accept: "OK"},
		"it": {Title: "t", Body: "b", OptOutBody: "o", Accept: "Accetto", Reject: "Rifiuto", Notice: "n", Choices: "c"},
	}
	c.Banner.DefaultLanguage = "it"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
}

func TestBannerLanguage(t *testing.T) {
	b := DefaultConfig().Banner
	tests := map[string]string{"de-AT": "de", "FR": "fr", "es_MX": "es", "en": "en", "pt-BR": "en", "": "en"}
	for in, want := range tests {
		if got := b.Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNoticeHash(t *testing.T) {
	b := DefaultConfig().Banner
	en, de := b.NoticeHash("en"), b.NoticeHash("de")
	if len(en) != 64 || strings.Trim(en, "0123456789abcdef") != "" {
		t.Fatalf("NoticeHash(en) = %q, want 64 hex digits", en)
	}
	if en == de {
		t.Error("en and de notices hash the same")
	}
	if b.NoticeHash("de-CH") != de {
		t.Error("de-CH must hash like de (the gate shows the de text)")
	}
	if b.NoticeHash("pt") != en {
		t.Error("a language without texts must hash like the default language")
	}
	changed := b
	changed.Texts = map[string]BannerText{"en": {Body: "Other wording."}}
	if changed.NoticeHash("en") == en {
		t.Error("changing the text must change the hash")
	}
	if changed.NoticeHash("de") != de {
		t.Error("changing en must not change de")
	}
	moved := b
	moved.NoticeURL = "/other-privacy"
	if moved.NoticeHash("en") == en {
		t.Error("changing the notice URL must change the hash")
	}
}
