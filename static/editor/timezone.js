// Tells the server the browser's time zone, once: the server shows every date
// in the zone this cookie names (webapp/timezones.py). A zone the person chose
// on the time zone page is the same cookie, so it is never overwritten here.

const COOKIE = "darkroom_tz";

if (!document.cookie.split("; ").some((pair) => pair.startsWith(`${COOKIE}=`))) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && /^[A-Za-z0-9_+\-\/]+$/.test(zone)) {
    const secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `${COOKIE}=${zone}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
  }
}
