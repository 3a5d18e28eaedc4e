// doorstep's one script: passkeys (WebAuthn). Served from doorstep itself
// and allowed by `script-src 'self'` on the pages that offer passkeys.
// It asks doorstep for the ceremony's options, lets the browser do it, and
// submits the browser's answer in an ordinary form. Everything else on
// these pages works without it.
"use strict";

(function () {
  function b64urlToBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bytesToB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function status(form, text) {
    var el = form.querySelector("[role=status]");
    if (el) el.textContent = text;
  }

  async function options(form, extra) {
    var body = new URLSearchParams();
    body.set("csrf", form.elements.csrf.value);
    for (var k in extra) body.set(k, extra[k]);
    var resp = await fetch(form.dataset.options, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
    });
    var data = await resp.json().catch(function () { return {}; });
    if (!resp.ok) throw new Error(data.error || "doorstep could not start this.");
    return data;
  }

  function assertionJSON(cred) {
    var r = cred.response;
    return JSON.stringify({
      id: cred.id,
      rawId: bytesToB64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: bytesToB64url(r.authenticatorData),
        clientDataJSON: bytesToB64url(r.clientDataJSON),
        signature: bytesToB64url(r.signature),
        userHandle: r.userHandle ? bytesToB64url(r.userHandle) : null,
      },
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    });
  }

  function registrationJSON(cred) {
    var r = cred.response;
    return JSON.stringify({
      id: cred.id,
      rawId: bytesToB64url(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: bytesToB64url(r.attestationObject),
        clientDataJSON: bytesToB64url(r.clientDataJSON),
      },
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    });
  }

  function requestOptions(data) {
    var pk = data.publicKey;
    pk.challenge = b64urlToBytes(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64urlToBytes(c.id); });
    return pk;
  }

  // Sign in: the button, and the browser's autofill where it has one.
  var login = document.getElementById("passkey-login");
  if (login && window.PublicKeyCredential) {
    var pendingAutofill = null;

    var finish = function (cred) {
      login.elements.credential.value = assertionJSON(cred);
      login.submit();
    };

    var button = document.getElementById("passkey-button");
    button.hidden = false;
    button.addEventListener("click", async function () {
      if (pendingAutofill) pendingAutofill.abort();
      status(login, "Waiting for your passkey…");
      try {
        var data = await options(login, {});
        var cred = await navigator.credentials.get({ publicKey: requestOptions(data) });
        if (cred) finish(cred);
      } catch (e) {
        status(login, e && e.name === "NotAllowedError"
          ? "The passkey request was cancelled or timed out."
          : (e && e.message) || "The passkey did not work.");
      }
    });

    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(async function (ok) {
        if (!ok) return;
        pendingAutofill = new AbortController();
        try {
          var data = await options(login, { autofill: "1" });
          var cred = await navigator.credentials.get({
            mediation: "conditional",
            publicKey: requestOptions(data),
            signal: pendingAutofill.signal,
          });
          if (cred) finish(cred);
        } catch (e) {
          // Aborted for the button, or nothing chosen: nothing to say.
        }
      });
    }
  } else if (login) {
    status(login, "This browser cannot use passkeys here.");
  }

  // Add a passkey (dashboard).
  var add = document.getElementById("add-passkey");
  if (add && window.PublicKeyCredential) {
    var addButton = document.getElementById("add-passkey-button");
    addButton.hidden = false;
    addButton.addEventListener("click", async function () {
      status(add, "Follow your browser's prompts…");
      try {
        var data = await options(add, {});
        var pk = data.publicKey;
        pk.challenge = b64urlToBytes(pk.challenge);
        pk.user.id = b64urlToBytes(pk.user.id);
        (pk.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBytes(c.id); });
        var cred = await navigator.credentials.create({ publicKey: pk });
        if (!cred) return;
        add.elements.credential.value = registrationJSON(cred);
        add.submit();
      } catch (e) {
        status(add, e && e.name === "InvalidStateError"
          ? "This passkey is registered already."
          : e && e.name === "NotAllowedError"
            ? "Adding the passkey was cancelled or timed out."
            : (e && e.message) || "The passkey could not be added.");
      }
    });
  } else if (add) {
    status(add, "This browser cannot make passkeys here.");
  }
})();
