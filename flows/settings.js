/**
 * Node-RED 4 settings for the roomctl integration flows (flows/README.md).
 * Everything comes from the environment, so nothing secret is written here or in
 * flows.json: the flows read ROOMCTL_URL, ROOMCTL_TOKEN, MQTT_URL, ALERT_WEBHOOK_URL,
 * SMTP_* … with env.get() or `${VAR}` properties, and usernames/passwords live in the
 * credentials file (flows_cred.json in the user directory), encrypted with
 * NODE_RED_CREDENTIAL_SECRET.
 *
 * The editor listens on loopback unless NODE_RED_HOST says otherwise; off loopback it
 * is only served with an admin login (NODE_RED_ADMIN_USER + NODE_RED_ADMIN_PASSWORD_HASH,
 * a bcrypt hash from `npx node-red admin hash-pw`), because the editor runs code.
 */
const path = require('node:path');

const env = process.env;
const host = env.NODE_RED_HOST || '127.0.0.1';
const loopback = ['127.0.0.1', 'localhost', '::1'].includes(host);
const adminAuth =
    env.NODE_RED_ADMIN_USER && env.NODE_RED_ADMIN_PASSWORD_HASH
        ? { type: 'credentials', users: [{ username: env.NODE_RED_ADMIN_USER, password: env.NODE_RED_ADMIN_PASSWORD_HASH, permissions: '*' }] }
        : undefined;
const editorWanted = env.NODE_RED_EDITOR !== 'off';
const editor = editorWanted && (loopback || adminAuth !== undefined);
if (editorWanted && !editor) console.warn(`[roomctl flows] the editor is off: NODE_RED_HOST=${host} is not loopback and no NODE_RED_ADMIN_USER/NODE_RED_ADMIN_PASSWORD_HASH is set`);

module.exports = {
    // The shipped flows, whatever the user directory (NODE_RED_USER_DIR may keep the
    // runtime's state elsewhere); a deploy from the editor writes them back here.
    flowFile: path.join(__dirname, 'flows.json'),
    flowFilePretty: true,
    // Unset: Node-RED generates a key and keeps it in .config.runtime.json.
    credentialSecret: env.NODE_RED_CREDENTIAL_SECRET || undefined,

    uiHost: host,
    uiPort: Number(env.NODE_RED_PORT || 1880),
    httpAdminRoot: editor ? '/' : false,
    httpNodeRoot: '/',
    adminAuth,
    apiMaxLength: '256kb',
    // Webhook and roomctl calls give up after this (the flows also set it per request).
    httpRequestTimeout: 15000,
    mqttReconnectTime: 5000,

    // The Modbus keypad node uses modbus-serial from flows/package.json (installed by
    // `npm run flows`): modules are loaded, never installed at run time.
    functionExternalModules: true,
    externalModules: { autoInstall: false, palette: { allowInstall: editor }, modules: { allowInstall: false } },
    functionTimeout: 0,

    logging: { console: { level: env.NODE_RED_LOG_LEVEL || 'info', metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false },
    editorTheme: { projects: { enabled: false }, tours: false, palette: {} },
    exportGlobalContextKeys: false,
};
