// Passkeys (WebAuthn): <form data-passkey="register|signin" data-options-url="..."> asks the server for
// options, runs navigator.credentials.create()/get(), and posts the answer as JSON to the form's action.
// The server answers {redirect} on success or {error[, redirect]}; the error is shown in [data-passkey-error].
"use strict";
(function () {
  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }
  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function decodeOptions(options) {
    options.challenge = toBuffer(options.challenge);
    if (options.user) { options.user.id = toBuffer(options.user.id); }
    (options.excludeCredentials || []).concat(options.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return options;
  }
  function encodeCredential(credential) {
    var r = credential.response;
    var out = { id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type,
      response: { clientDataJSON: toBase64url(r.clientDataJSON) },
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {} };
    if (credential.authenticatorAttachment) { out.authenticatorAttachment = credential.authenticatorAttachment; }
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) { out.response.userHandle = toBase64url(r.userHandle); }
    }
    return out;
  }
  function postJSON(url, token, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) { data.ok = response.ok; return data; });
    });
  }
  function showError(form, message) {
    var box = form.querySelector("[data-passkey-error]");
    box.textContent = message;
    box.hidden = false;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target, mode = form.getAttribute("data-passkey");
    if (!mode) { return; }
    event.preventDefault();
    if (!window.PublicKeyCredential || !navigator.credentials) { showError(form, form.getAttribute("data-unsupported")); return; }
    var token = form.querySelector("[name=csrf_token]").value;
    var name = form.elements.name ? form.elements.name.value : "";
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    form.querySelector("[data-passkey-error]").hidden = true;
    postJSON(form.getAttribute("data-options-url"), token, { name: name }).then(function (data) {
      if (!data.ok) { throw data; }
      var publicKey = decodeOptions(data.publicKey);
      return mode === "register" ? navigator.credentials.create({ publicKey: publicKey })
                                 : navigator.credentials.get({ publicKey: publicKey });
    }).then(function (credential) {
      return postJSON(form.action, token, { name: name, credential: encodeCredential(credential) });
    }).then(function (data) {
      if (data.ok && data.redirect) { window.location.assign(data.redirect); return; }
      throw data;
    }).catch(function (problem) {
      button.disabled = false;
      if (problem && problem.redirect) { window.location.assign(problem.redirect); return; }
      if (problem && problem.error) { showError(form, problem.error); return; }
      var already = problem && problem.name === "InvalidStateError" && form.getAttribute("data-already");
      showError(form, already || form.getAttribute("data-cancelled"));
    });
  });
})();
