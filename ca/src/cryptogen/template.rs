//! The small subset of Go's `text/template` that `crypto-config.yaml` uses: `{{.Name}}`
//! substitutions (whitespace inside the braces allowed) over a fixed set of variables.

use super::error::CryptogenError;

/// Values available to a template. A variable left `None` is not defined at that point
/// (for example `{{.CommonName}}` inside a `CommonName`), and using it is an error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vars<'a> {
    /// `{{.Prefix}}`: `peer` or `orderer`.
    pub prefix: Option<&'a str>,
    /// `{{.Index}}`: the templated node's number.
    pub index: Option<usize>,
    /// `{{.Hostname}}`.
    pub hostname: Option<&'a str>,
    /// `{{.Domain}}`.
    pub domain: Option<&'a str>,
    /// `{{.CommonName}}`.
    pub common_name: Option<&'a str>,
}

impl Vars<'_> {
    fn lookup(&self, name: &str) -> Result<Option<String>, ()> {
        Ok(match name {
            "Prefix" => self.prefix.map(str::to_owned),
            "Index" => self.index.map(|i| i.to_string()),
            "Hostname" => self.hostname.map(str::to_owned),
            "Domain" => self.domain.map(str::to_owned),
            "CommonName" => self.common_name.map(str::to_owned),
            _ => return Err(()),
        })
    }
}

/// Renders `template`, replacing every `{{.Var}}` with its value.
pub(crate) fn render(template: &str, vars: &Vars<'_>) -> Result<String, CryptogenError> {
    let fail = |reason: String| CryptogenError::Template {
        template: template.to_owned(),
        reason,
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| fail("unterminated `{{`".to_owned()))?;
        let action = after[..close].trim();
        let name = action
            .strip_prefix('.')
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()))
            .ok_or_else(|| fail(format!("unsupported action `{{{{{action}}}}}`")))?;
        match vars.lookup(name) {
            Ok(Some(value)) => out.push_str(&value),
            Ok(None) => return Err(fail(format!("`.{name}` is not available here"))),
            Err(()) => {
                return Err(fail(format!(
                    "unknown variable `.{name}` (known: .Prefix .Index .Hostname .Domain .CommonName)"
                )));
            }
        }
        rest = &after[close + 2..];
    }
    if rest.contains("}}") {
        return Err(fail("unmatched `}}`".to_owned()));
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            prefix: Some("peer"),
            index: Some(3),
            hostname: Some("peer3"),
            domain: Some("org1.example.com"),
            common_name: None,
        }
    }

    #[test]
    fn substitutes_variables() {
        let got = render("{{.Prefix}}{{ .Index }}.{{.Domain}}", &vars()).unwrap();
        assert_eq!(got, "peer3.org1.example.com");
        assert_eq!(render("plain", &vars()).unwrap(), "plain");
    }

    #[test]
    fn rejects_unknown_unavailable_and_malformed() {
        for bad in [
            "{{.Nope}}",
            "{{.CommonName}}",
            "{{.Hostname",
            "x}}",
            "{{Hostname}}",
        ] {
            let err = render(bad, &vars()).unwrap_err();
            assert!(
                matches!(err, CryptogenError::Template { ref template, .. } if template == bad),
                "{bad}: {err}"
            );
        }
    }
}
