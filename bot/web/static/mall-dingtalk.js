// DingTalk 免登 for the mall: ask the DingTalk client for a one-time code (five minutes, once)
// with dd.runtime.permission.requestAuthCode({corpId}) and post it back; the server exchanges it
// with topapi/v2/user/getuserinfo. Outside DingTalk there is no code to get: say so.
(function () {
  var form = document.getElementById("dd-login");
  var status = document.getElementById("status");
  function outside() { status.textContent = status.getAttribute("data-outside"); }
  if (!window.dd || !dd.env || dd.env.platform === "notInDingTalk") { outside(); return; }
  dd.ready(function () {
    dd.runtime.permission.requestAuthCode({
      corpId: form.getAttribute("data-corp-id"),
      onSuccess: function (result) { form.elements.code.value = result.code; form.submit(); },
      onFail: outside
    });
  });
  dd.error(outside);
})();
