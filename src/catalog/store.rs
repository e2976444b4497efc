//! Store uploads: what a skill, agent or plugin ZIP must look like, the
//! type-mismatch guards, and the name it is served under.
//!
//! Invariants: a validated upload has a kebab-case name, exactly the files
//! its type needs (rooted at the entity: a skill's folder, an agent's single
//! file, a plugin's root), and a served name `<name>-by-<owner>` that cannot
//! collide with another owner's upload of the same name.

use super::archive::{read_archive, ArchiveError, ArchiveFile, ArchiveLimits};
use super::frontmatter::parse_frontmatter;
use crate::git::RepoPath;

/// Limits for Store uploads (stated in README).
pub const STORE_LIMITS: ArchiveLimits = ArchiveLimits {
    max_archive_bytes: 10 << 20,
    max_files: 1_000,
    max_total_bytes: 20 << 20,
    max_file_bytes: 5 << 20,
    max_ratio: 200,
};

/// What a Store entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityType {
    Skill,
    Agent,
    Plugin,
}

impl EntityType {
    /// Parses `skill`, `agent` or `plugin`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "skill" => Some(EntityType::Skill),
            "agent" => Some(EntityType::Agent),
            "plugin" => Some(EntityType::Plugin),
            _ => None,
        }
    }

    /// The API and stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Skill => "skill",
            EntityType::Agent => "agent",
            EntityType::Plugin => "plugin",
        }
    }
}

/// Why an upload was refused. `code()` is the API's machine code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("`{0}` is not kebab-case (lowercase letters, digits and single hyphens, at most 64 characters)")]
    NotKebabCase(String),
    #[error("`{0}` contains `-by-` or ends in `-by`: its served name `<name>-by-<owner>` could then name another owner's entity; choose another name")]
    AmbiguousName(String),
    #[error("this ZIP holds a plugin (.claude-plugin/plugin.json); upload it with type `plugin`")]
    PluginAsSkill,
    #[error("this ZIP holds a plugin (.claude-plugin/plugin.json); upload it with type `plugin`")]
    PluginAsAgent,
    #[error("this ZIP holds an agent, not a SKILL.md; upload it with type `agent`")]
    AgentAsSkill,
    #[error("this ZIP holds a skill (SKILL.md); upload it with type `skill`")]
    SkillAsAgent,
    #[error("this ZIP holds a skill (SKILL.md), not a plugin; upload it with type `skill`")]
    SkillAsPlugin,
    #[error("this ZIP holds an agent, not a plugin; upload it with type `agent`")]
    AgentAsPlugin,
    #[error("a skill needs exactly one SKILL.md at the ZIP root or in one top folder; found {0}")]
    SkillMdCount(usize),
    #[error("an agent needs exactly one markdown file with `name` and `description` frontmatter; found {0}")]
    AgentCount(usize),
    #[error("`{file}` needs frontmatter with `name` and `description`")]
    MissingFrontmatter { file: String },
    #[error("a plugin needs .claude-plugin/plugin.json at the ZIP root or in one top folder")]
    NoPluginJson,
    #[error(".claude-plugin/plugin.json is invalid: {0}")]
    BadPluginJson(String),
}

impl UploadError {
    /// The machine-readable error code.
    pub fn code(&self) -> &'static str {
        match self {
            UploadError::Archive(e) => e.code(),
            UploadError::NotKebabCase(_) => "not_kebab_case",
            UploadError::AmbiguousName(_) => "ambiguous_name",
            UploadError::PluginAsSkill => "type_mismatch_plugin_as_skill",
            UploadError::PluginAsAgent => "type_mismatch_plugin_as_agent",
            UploadError::AgentAsSkill => "type_mismatch_agent_as_skill",
            UploadError::SkillAsAgent => "type_mismatch_skill_as_agent",
            UploadError::SkillAsPlugin => "type_mismatch_skill_as_plugin",
            UploadError::AgentAsPlugin => "type_mismatch_agent_as_plugin",
            UploadError::SkillMdCount(_) => "skill_md_count",
            UploadError::AgentCount(_) => "agent_count",
            UploadError::MissingFrontmatter { .. } => "missing_frontmatter",
            UploadError::NoPluginJson => "no_plugin_json",
            UploadError::BadPluginJson(_) => "bad_plugin_json",
        }
    }
}

/// Whether `s` is kebab-case: `^[a-z0-9]+(-[a-z0-9]+)*$`, at most 64 long.
pub fn is_kebab_case(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `<name>-by-<owner>` reads back as exactly this name and owner:
/// the name holds no `-by-` and does not end in `-by`, so the first `-by-`
/// of a served name is always the separator and no two (name, owner)
/// pairs share one.
pub fn is_unambiguous_name(name: &str) -> bool {
    !name.contains("-by-") && !name.ends_with("-by")
}

/// The name an entity is served under: `<name>-by-<owner>`.
pub fn served_name(name: &str, owner: &str) -> String {
    format!("{name}-by-{owner}")
}

/// A validated upload.
#[derive(Debug, Clone)]
pub struct ValidatedUpload {
    pub entity_type: EntityType,
    pub name: String,
    pub served_name: String,
    /// Rooted at the entity: the skill folder, the agent file, the plugin root.
    pub files: Vec<ArchiveFile>,
    pub warnings: Vec<String>,
}

/// The single top folder every path shares, if there is exactly one.
fn common_top(files: &[ArchiveFile]) -> Option<String> {
    let first = files.first()?.path.as_str().split_once('/')?.0.to_string();
    files
        .iter()
        .all(|f| f.path.as_str().starts_with(&format!("{first}/")))
        .then_some(first)
}

/// Files re-rooted under `prefix` (`""` keeps them as they are); the
/// others are dropped. Contents move, never copy: an upload's files are
/// most of what it costs the isolate.
fn under(files: Vec<ArchiveFile>, prefix: &str) -> Vec<ArchiveFile> {
    if prefix.is_empty() {
        return files;
    }
    let prefix = format!("{prefix}/");
    files
        .into_iter()
        .filter_map(|f| {
            let path = RepoPath::parse(f.path.as_str().strip_prefix(&prefix)?).ok()?;
            Some(ArchiveFile { path, ..f })
        })
        .collect()
}

/// What the ZIP looks like, independent of the declared type.
struct Shape {
    /// Files rooted at the ZIP's content root (its one top folder, if any).
    files: Vec<ArchiveFile>,
    plugin_json: bool,
    skill_mds: usize,
    /// Markdown files (not SKILL.md, not README) with agent frontmatter.
    agents: Vec<usize>,
}

fn shape(raw: Vec<ArchiveFile>) -> Shape {
    // A ZIP of a folder has one top folder to look inside; but a root that
    // already holds the entity's manifest is the entity itself.
    let rooted = raw
        .iter()
        .any(|f| matches!(f.path.as_str(), ".claude-plugin/plugin.json" | "SKILL.md"));
    let top = if rooted {
        String::new()
    } else {
        common_top(&raw).unwrap_or_default()
    };
    let files = under(raw, &top);
    let depth = |f: &ArchiveFile| f.path.as_str().matches('/').count();
    let plugin_json = files
        .iter()
        .any(|f| f.path.as_str() == ".claude-plugin/plugin.json");
    let skill_mds = files
        .iter()
        .filter(|f| f.path.as_str().rsplit('/').next() == Some("SKILL.md") && depth(f) <= 1)
        .count();
    let agents = files
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            let p = f.path.as_str();
            let base = p.rsplit('/').next().unwrap_or(p);
            base.ends_with(".md")
                && base != "SKILL.md"
                && !base.eq_ignore_ascii_case("README.md")
                && depth(f) <= 1
                && has_name_and_description(&f.content)
        })
        .map(|(i, _)| i)
        .collect();
    Shape {
        files,
        plugin_json,
        skill_mds,
        agents,
    }
}

fn has_name_and_description(content: &[u8]) -> bool {
    std::str::from_utf8(content)
        .ok()
        .and_then(parse_frontmatter)
        .is_some_and(|fm| {
            fm.get("name").is_some_and(|v| !v.is_empty())
                && fm.get("description").is_some_and(|v| !v.is_empty())
        })
}

/// The files of an uploaded file called `file_name`: a ZIP (named
/// `*.zip`, Anthropic's `*.skill` package, or anything else), or a lone
/// Markdown file (`SKILL.md`, an agent's `*.md`), taken as a one-file
/// archive under its own name.
pub fn uploaded_files(bytes: Vec<u8>, file_name: &str) -> Result<Vec<ArchiveFile>, UploadError> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    if !base.to_ascii_lowercase().ends_with(".md") {
        return Ok(read_archive(bytes, STORE_LIMITS)?);
    }
    if bytes.len() > STORE_LIMITS.max_file_bytes {
        return Err(ArchiveError::FileTooLarge {
            path: base.to_string(),
            limit: STORE_LIMITS.max_file_bytes,
        }
        .into());
    }
    let name = if base.eq_ignore_ascii_case("SKILL.md") {
        "SKILL.md"
    } else {
        base
    };
    let path = RepoPath::parse(name).map_err(ArchiveError::BadPath)?;
    Ok(vec![ArchiveFile {
        path,
        exec: false,
        content: bytes,
    }])
}

/// Validates an upload of `zip` as `declared`, named `name`, owned by `owner`.
pub fn validate_upload(
    zip: impl Into<Vec<u8>>,
    declared: EntityType,
    name: &str,
    owner: &str,
) -> Result<ValidatedUpload, UploadError> {
    validate_files(read_archive(zip, STORE_LIMITS)?, declared, name, owner)
}

/// Validates an upload's files (`uploaded_files`) as `declared`, named
/// `name`, owned by `owner`.
pub fn validate_files(
    raw: Vec<ArchiveFile>,
    declared: EntityType,
    name: &str,
    owner: &str,
) -> Result<ValidatedUpload, UploadError> {
    if !is_kebab_case(name) {
        return Err(UploadError::NotKebabCase(name.to_string()));
    }
    if !is_unambiguous_name(name) {
        return Err(UploadError::AmbiguousName(name.to_string()));
    }
    let mut s = shape(raw);
    let mut warnings = Vec::new();
    let files = match declared {
        EntityType::Skill => {
            if s.plugin_json {
                return Err(UploadError::PluginAsSkill);
            }
            if s.skill_mds == 0 && s.agents.len() == 1 {
                return Err(UploadError::AgentAsSkill);
            }
            let skill_md: Vec<&ArchiveFile> = s
                .files
                .iter()
                .filter(|f| {
                    f.path.as_str().rsplit('/').next() == Some("SKILL.md")
                        && f.path.as_str().matches('/').count() <= 1
                })
                .collect();
            if skill_md.len() != 1 {
                return Err(UploadError::SkillMdCount(skill_md.len()));
            }
            let md = skill_md[0];
            if !has_name_and_description(&md.content) {
                return Err(UploadError::MissingFrontmatter {
                    file: md.path.to_string(),
                });
            }
            // Root the skill at the folder that holds SKILL.md.
            let dir = md
                .path
                .as_str()
                .strip_suffix("SKILL.md")
                .unwrap_or("")
                .trim_end_matches('/')
                .to_string();
            under(s.files, &dir)
        }
        EntityType::Agent => {
            if s.plugin_json {
                return Err(UploadError::PluginAsAgent);
            }
            if s.skill_mds > 0 {
                return Err(UploadError::SkillAsAgent);
            }
            if s.agents.len() != 1 {
                return Err(UploadError::AgentCount(s.agents.len()));
            }
            let others = s.files.len() - 1;
            let agent = s.files.swap_remove(s.agents[0]);
            if others > 0 {
                warnings.push(format!(
                    "only the agent file `{}` is served; {others} other file(s) are ignored",
                    agent.path
                ));
            }
            vec![agent]
        }
        EntityType::Plugin => {
            if !s.plugin_json {
                return Err(if s.skill_mds > 0 {
                    UploadError::SkillAsPlugin
                } else if !s.agents.is_empty() {
                    UploadError::AgentAsPlugin
                } else {
                    UploadError::NoPluginJson
                });
            }
            let pj = s
                .files
                .iter()
                .find(|f| f.path.as_str() == ".claude-plugin/plugin.json")
                .map(|f| f.content.as_slice())
                .unwrap_or_default();
            let v: serde_json::Value = serde_json::from_slice(pj)
                .map_err(|e| UploadError::BadPluginJson(e.to_string()))?;
            let pj_name = v.get("name").and_then(|n| n.as_str()).ok_or_else(|| {
                UploadError::BadPluginJson("`name` is missing or not a string".into())
            })?;
            if !is_kebab_case(pj_name) {
                return Err(UploadError::NotKebabCase(pj_name.to_string()));
            }
            if pj_name != name {
                warnings.push(format!(
                    "plugin.json names the plugin `{pj_name}`; it is served as `{}`",
                    served_name(name, owner)
                ));
            }
            s.files
        }
    };
    Ok(ValidatedUpload {
        entity_type: declared,
        name: name.to_string(),
        served_name: served_name(name, owner),
        files,
        warnings,
    })
}
