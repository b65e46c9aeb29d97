package commands

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSanitize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text    string
		inert, people string // the result under InertMentions and under UserMentions
	}{
		{"plain text", "Deploy v1.4.0 done", "Deploy v1.4.0 done", "Deploy v1.4.0 done"},
		{"formatting stays", "`code` *bold* _it_", "`code` *bold* _it_", "`code` *bold* _it_"},
		{"channel broadcast", "<!channel> deploy", "@\u200bchannel deploy", "@\u200bchannel deploy"},
		{"here with label", "<!here|here>", "@\u200bhere", "@\u200bhere"},
		{"everyone", "<!everyone>", "@\u200beveryone", "@\u200beveryone"},
		{"user group", "<!subteam^S0OWNERS|@product-owners> approve", "@\u200bproduct-owners approve", "@\u200bproduct-owners approve"},
		{"user group without label", "<!subteam^S0OWNERS>", "@\u200bsubteam", "@\u200bsubteam"},
		{"user with label", "<@U0BOB|bob> please", "@\u200bbob please", "<@U0BOB> please"},
		{"user without label", "<@W0ENT>", "@\u200bW0ENT", "<@W0ENT>"},
		{"user label holding a broadcast", "<@U0BOB|here>", "@\u200bhere", "<@U0BOB>"},
		{"not a user ID", "<@bob>", "&lt;@bob&gt;", "&lt;@bob&gt;"},
		{"channel link", "<#C0DEPLOYS|deploys>", "<#C0DEPLOYS>", "<#C0DEPLOYS>"},
		{"web link shows its address", "<https://status.example.com|status page>", "https://status.example.com", "https://status.example.com"},
		{"other scheme", "<javascript:alert(1)|click>", "&lt;javascript:alert(1)|click&gt;", "&lt;javascript:alert(1)|click&gt;"},
		{"date shows its fallback", "<!date^1392734382^{date_num}|Feb 18, 2014>", "Feb 18, 2014", "Feb 18, 2014"},
		{"typed broadcasts", "@here and @Channel, a@everyone.example", "@\u200bhere and @\u200bChannel, a@\u200beveryone.example", "@\u200bhere and @\u200bChannel, a@\u200beveryone.example"},
		{"typed person", "ask @bob", "ask @bob", "ask @bob"},
		{"entities stay, stray ampersand is escaped", "a & b &amp; c &lt;tag&gt;", "a &amp; b &amp; c &lt;tag&gt;", "a &amp; b &amp; c &lt;tag&gt;"},
		{"stray brackets", "x < y > z", "x &lt; y &gt; z", "x &lt; y &gt; z"},
		{"nested brackets", "<<!here>>", "&lt;@\u200bhere&gt;", "&lt;@\u200bhere&gt;"},
		{"markup inside a mention", "<@U0BOB|<!here>>", "&lt;@U0BOB|@\u200bhere&gt;", "&lt;@U0BOB|@\u200bhere&gt;"},
		{"controls removed, lines kept", "NUL\x00 esc\x1b[2J bidi\u202e ok\nline\ttab", "NUL esc[2J bidi ok\nline\ttab", "NUL esc[2J bidi ok\nline\ttab"},
		{"invalid UTF-8", "bad\xffbyte", "bad\ufffdbyte", "bad\ufffdbyte"},
		{"invisible character between @ and here", "@\u202ehere", "@\u200bhere", "@\u200bhere"},
		{"emoji sequence kept", "🏳️‍🌈", "🏳️‍🌈", "🏳️‍🌈"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.inert, Sanitize(tc.text, InertMentions))
			require.Equal(t, tc.people, Sanitize(tc.text, UserMentions))
			require.Equal(t, tc.inert, Sanitize(tc.inert, InertMentions), "sanitizing twice changes nothing")
			require.Equal(t, tc.people, Sanitize(tc.people, UserMentions), "sanitizing twice changes nothing")
		})
	}
}

func TestUserTextSanitized(t *testing.T) {
	t.Parallel()
	title := UserText("<!channel> checkout down, <@U0BOB|bob> on it")
	require.Equal(t, "@\u200bchannel checkout down, <@U0BOB> on it", title.Sanitized(UserMentions))
	require.Equal(t, "@\u200bchannel checkout down, @\u200bbob on it", title.Sanitized(InertMentions))
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"<!channel>", "<@U0BOB|bob>", "@here", "<<!here>>", "a &amp; b", "@\u200bhere", "<https://x|y>", "\xff",
		"@he\x05re", "@<!date^1^x|here>", "@\u202ehere"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, keepUsers bool) {
		mode := InertMentions
		if keepUsers {
			mode = UserMentions
		}
		once := Sanitize(text, mode)
		requireInert(t, once)
		require.Equal(t, once, Sanitize(once, mode), "sanitizing twice changes nothing")
	})
}
