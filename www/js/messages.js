// One sentence for every machine code the API returns. The UI never shows a
// bare code: `describe` falls back to the server's own message, and a test
// (tests/ui_messages.rs) fails when the Worker gains a code missing here.

export const MESSAGES = {
  // Sign-in and access
  unauthorized: "You are not signed in, or your token was revoked. Sign in again with a valid token.",
  bad_token: "That token is not valid. Check that you pasted all of it, or create a new one.",
  admin_token_sign_in: "The bootstrap ADMIN_TOKEN cannot sign in to the web UI. Sign in with an admin user's personal token instead.",
  admin_token_unsafe: "This deployment's ADMIN_TOKEN is the development default or too short, so it is refused. Set a long random one with `wrangler secret put ADMIN_TOKEN`.",
  basic_auth_refused: "This request used git's password login, which the API does not accept. Sign in again.",
  cross_site_request: "This change did not come from this site, so it was refused. Reload the page and try again.",
  forbidden: "You are not allowed to do that.",
  access_denied: "Cloudflare Access could not vouch for you (its sign-in token was refused). Reload the page to sign in again.",
  access_no_user: "Cloudflare Access signed you in, but no user here has your email. Ask an admin to create your user.",
  access_ambiguous_user: "Cloudflare Access signed you in, but several users here share your email. Ask an admin to fix that.",
  access_keys_unavailable: "Cloudflare Access's signing keys could not be loaded. Try again in a moment.",
  not_found: "That does not exist (any more).",
  method_not_allowed: "That action is not supported here.",
  conflict: "That name is already taken. Pick another, or update the existing one.",
  storage: "The server could not read or write its storage. Try again in a moment.",
  internal: "Something went wrong on the server. Try again in a moment.",

  // Requests
  bad_json: "The request was malformed. Reload the page and try again.",
  bad_form: "The upload form was malformed. Pick the file again and retry.",
  body_too_large: "That file is too large to upload.",
  gc_running: "Storage clean-up is running right now. Try again in a minute.",
  length_required: "The upload did not say its size. Upload the archive as a file rather than a stream.",
  empty_body: "The request carried no file.",
  bad_secret_name: "Name the Worker secret (capital letters, digits and _), do not paste the secret itself.",
  bad_signature: "The webhook's signature or token is missing or wrong.",
  bad_source_url: "The source must be the http(s) address of a git repository, without credentials in it.",
  marketplace_synced: "This marketplace follows an upstream repository. Remove its source before uploading an archive.",
  missing_secret: "The Worker lacks the secret the source names. Add it with wrangler secret put.",
  no_source: "This marketplace does not follow an upstream repository.",
  sync_in_progress: "A sync of this marketplace is already running. Try again when it ends.",
  upstream_protocol: "The upstream server's answer could not be understood as git.",
  upstream_redirect: "The upstream redirects to another site; set the source to that address directly.",
  upstream_ref_not_found: "The upstream repository has no such branch, tag or commit.",
  upstream_refused: "The upstream server refused the request.",
  upstream_status: "The upstream server answered with an error.",
  upstream_too_large: "The upstream repository is larger than a sync may read.",
  upstream_unauthorized: "The upstream repository refused the credentials. Check the source's secret.",
  upstream_unreachable: "The upstream repository could not be reached.",
  upstream_bad_pack: "The upstream repository sent data that could not be read.",
  upstream_incomplete: "The upstream repository did not send every file of the commit.",
  upstream_malformed: "The upstream repository's commit or tree is malformed.",
  zip_too_large: "This marketplace is too large for one ZIP download. Clone it with git instead.",
  bad_id: "That address does not point to a Store entry.",
  entity_unpublished: "An admin unpublished this entry, so it cannot be installed until an admin restores it.",
  bad_query: "The page or filter in the address is not valid.",
  bad_type: "Pick whether you are uploading a skill, an agent or a plugin.",
  bad_field: "One of the fields holds a file where text was expected.",
  missing_field: "Fill in every required field.",
  missing_file: "Choose a ZIP file to upload.",
  field_too_long: "One of the text fields is too long (4,000 characters at most).",
  bad_url: "Photo and video links must start with https:// or http://.",
  docs_too_large: "Attach at most 10 docs, each smaller than 256 KiB.",

  // Names
  bad_username: "Usernames are lowercase letters, digits and dashes, starting with a letter or digit.",
  bad_email: "Enter a valid email address.",
  bad_group_name: "Group names are lowercase letters, digits, dashes and underscores.",
  bad_slug: "Marketplace names are lowercase letters, digits, dashes and underscores (and not `store`).",
  bad_plugin_name: "A plugin name in the marketplace is not valid (lowercase letters, digits and dashes).",
  bad_token_name: "Give the token a name of 1 to 100 characters.",
  too_many_failures: "Too many failed sign-ins from your address. Wait a minute and try again.",
  bad_expiry: "Choose a lifetime from 1 to 3650 days, or none for a token that does not expire.",
  too_many_entities: "You own 200 Store entries, the most anyone may. Delete one you no longer need, then publish this one.",
  too_many_tokens: "This account already holds 100 live tokens, the most anyone may. Revoke one that is no longer used, then create this one.",
  not_kebab_case: "The name must be kebab-case: lowercase words joined by single dashes, like `my-skill`.",
  ambiguous_name: "That name contains `-by-` or ends in `-by`, which would make its served name `<name>-by-<you>` look like someone else's. Choose another name.",

  // Archives (uploads and imports)
  archive_too_large: "The archive is larger than the upload limit.",
  archive_format: "That file is not a ZIP (or, for imports, a .tar.gz) archive.",
  archive_corrupt: "The archive is damaged and cannot be read. Create it again.",
  too_many_files: "The archive holds more files than allowed.",
  too_many_bytes: "The archive unpacks to more data than allowed.",
  file_too_large: "One file in the archive is larger than allowed.",
  compression_bomb: "A file in the archive expands far too much when unpacked, so it was refused as unsafe.",
  symlink: "The archive contains a symbolic link; links are not allowed. Replace it with the real file.",
  special_file: "The archive contains a device or other special file; only regular files are allowed.",
  encrypted_entry: "The archive contains a password-protected file; upload it without encryption.",
  unsupported_compression: "The archive uses a compression method other than plain ZIP deflate.",
  non_utf8_name: "A file name in the archive is not valid UTF-8 text.",
  bad_path: "A path in the archive is unsafe (such as `..`, `.git` or an absolute path).",
  bad_file_path: "That file address is not valid; open the file from its entity's page.",
  duplicate_path: "The archive contains the same path twice.",

  // Store uploads
  skill_md_count: "A skill must contain exactly one SKILL.md file.",
  agent_count: "An agent must contain exactly one markdown file that defines it.",
  missing_frontmatter: "The SKILL.md or agent file needs frontmatter with `name` and `description`.",
  no_plugin_json: "A plugin needs a `.claude-plugin/plugin.json` file.",
  bad_plugin_json: "`plugin.json` is not valid JSON with a kebab-case `name`.",
  type_mismatch_skill_as_agent: "This ZIP holds a skill (it has a SKILL.md), but you chose Agent. Choose Skill instead.",
  type_mismatch_agent_as_skill: "This ZIP holds an agent, but you chose Skill. Choose Agent instead.",
  type_mismatch_plugin_as_skill: "This ZIP holds a plugin (it has .claude-plugin/plugin.json), but you chose Skill. Choose Plugin instead.",
  type_mismatch_plugin_as_agent: "This ZIP holds a plugin (it has .claude-plugin/plugin.json), but you chose Agent. Choose Plugin instead.",
  type_mismatch_skill_as_plugin: "This ZIP holds a skill (it has a SKILL.md), but you chose Plugin. Choose Skill instead.",
  type_mismatch_agent_as_plugin: "This ZIP holds an agent, but you chose Plugin. Choose Agent instead.",

  // Marketplace imports
  no_manifest: "The archive has no `.claude-plugin/marketplace.json`.",
  ambiguous_manifest: "The archive has more than one `marketplace.json`; keep one at the root.",
  bad_manifest: "`marketplace.json` is not valid.",
  duplicate_plugin: "Two plugins in `marketplace.json` share a name.",
  source_escapes_root: "A plugin's source points outside the repository.",
  bad_source: "A plugin's source is malformed.",
  empty_plugin: "A plugin's folder holds no files.",

  // My AI Stack and admin
  required_plugin: "This plugin is required for your group, so it cannot be switched off.",
  bad_requirement: "Choose whether the grant is available or required.",
  bad_gc: "Garbage collection ages must be zero or more seconds.",
  bad_purge: "Only purging every cached pack is supported.",
};

/** The human sentence for an API error: the table's, else the server's text. */
export function describe(code, serverMessage) {
  return MESSAGES[code] || serverMessage || "Something went wrong. Try again in a moment.";
}
