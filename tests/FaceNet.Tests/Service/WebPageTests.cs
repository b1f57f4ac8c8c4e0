using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using static FaceNet.Tests.Service.RunningService;

namespace FaceNet.Tests.Service;

/// <summary>
/// The web page in a real headless Chromium (Debian's chromium and chromium-driver, installed by
/// ./test.sh) against the real service: the key typed once, two photos uploaded, the verdict read as a
/// user reads it; enrol and identify; the API reference renders. Screenshots are kept in
/// artifacts/screenshots/ at the repository root (or the test folder when run elsewhere).
/// </summary>
[Trait("Category", "Slow")] // processes, browsers, packages or many models: ./test.sh runs it, --filter "Category!=Slow" leaves it out
public sealed class WebPageTests
{
    private static ChromeDriver Browser(params string[] extra)
    {
        foreach (var needed in new[] { "/usr/bin/chromium", "/usr/bin/chromedriver" })
            if (!File.Exists(needed)) throw new InvalidOperationException($"{needed} is missing (Debian packages chromium and chromium-driver): run ./test.sh, which installs them");
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600");
        options.AddArguments(extra);
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(120));
    }

    private static string Screenshots()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "FaceNet.sln"))) dir = Path.GetDirectoryName(dir);
        var target = Path.Combine(dir ?? AppContext.BaseDirectory, "artifacts", "screenshots");
        Directory.CreateDirectory(target);
        return target;
    }

    [Fact]
    public async Task A_user_verifies_two_photos_enrols_a_person_and_identifies_a_photo_in_the_browser()
    {
        await using var s = await StartAsync(keys: ("browser", "admin", 1000));
        using var browser = Browser();
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60));
        browser.Navigate().GoToUrl(s.Host.Address + "/");
        Assert.Equal("FaceNet for .NET", browser.Title);

        // the key, typed once and kept: a reload still has it
        browser.FindElement(By.Id("key")).SendKeys(s.Keys["browser"]);
        browser.FindElement(By.Id("save-key")).Click();
        browser.Navigate().Refresh();
        Assert.Equal(s.Keys["browser"], browser.FindElement(By.Id("key")).GetDomProperty("value"));

        // same person
        browser.FindElement(By.Id("verify-a")).SendKeys(Sample("person_a_1.jpg"));
        browser.FindElement(By.Id("verify-b")).SendKeys(Sample("person_a_2.jpg"));
        browser.FindElement(By.Id("verify-go")).Click();
        var verdict = wait.Until(d => d.FindElement(By.Id("verify-verdict")) is { Displayed: true, Text.Length: > 0 } v ? v : null);
        Assert.StartsWith("Same person: the distance 0.58", verdict.Text);
        Assert.Contains("within the threshold 0.894", verdict.Text);
        Assert.True(browser.FindElement(By.Id("verify-ca")).Size.Width > 100); // the photo drawn, with its box
        browser.GetScreenshot().SaveAsFile(Path.Combine(Screenshots(), "web-verify-same.png"));

        // another man
        browser.FindElement(By.Id("verify-b")).SendKeys(Sample("person_b.jpg"));
        browser.FindElement(By.Id("verify-go")).Click();
        wait.Until(d => d.FindElement(By.Id("verify-verdict")).Text.StartsWith("Different people"));
        Assert.Contains("above the threshold", browser.FindElement(By.Id("verify-verdict")).Text);

        // enrol, then identify another photo of her
        browser.FindElement(By.Id("enroll-name")).SendKeys("Ada");
        browser.FindElement(By.Id("enroll-file")).SendKeys(Face("img1.jpg"));
        browser.FindElement(By.Id("enroll-go")).Click();
        wait.Until(d => d.FindElement(By.Id("enroll-verdict")).Text.StartsWith("Enrolled Ada"));
        browser.FindElement(By.Id("identify-file")).SendKeys(Face("img2.jpg"));
        browser.FindElement(By.Id("identify-go")).Click();
        wait.Until(d => d.FindElement(By.Id("identify-verdict")).Text.StartsWith("Ada: distance"));
        browser.GetScreenshot().SaveAsFile(Path.Combine(Screenshots(), "web-identify.png"));

        // a wrong key: the problem's words, not a crash
        browser.FindElement(By.Id("key")).Clear();
        browser.FindElement(By.Id("key")).SendKeys("fnk_wrong");
        browser.FindElement(By.Id("verify-go")).Click();
        wait.Until(d => d.FindElement(By.Id("verify-verdict")).Text.Contains("unknown API key"));
    }

    [Fact]
    public async Task The_page_shows_the_liveness_verdict_and_refuses_a_photo_of_a_photo_when_asked()
    {
        await using var s = await StartAsync(keys: ("browser", "admin", 1000));
        using var browser = Browser();
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60));
        browser.Navigate().GoToUrl(s.Host.Address + "/");
        browser.FindElement(By.Id("key")).SendKeys(s.Keys["browser"]);
        browser.FindElement(By.Id("identify-file")).SendKeys(TestImages.DataPath("liveness", "image_F1.jpg"));
        browser.FindElement(By.Id("live-go")).Click();
        wait.Until(d => d.FindElement(By.Id("identify-verdict")).Text.StartsWith("A photo or a screen held up to the camera"));
        browser.GetScreenshot().SaveAsFile(Path.Combine(Screenshots(), "web-liveness.png"));
        // with the box ticked, enrolling that photo is refused in the problem's words
        browser.FindElement(By.Id("liveness")).Click();
        browser.FindElement(By.Id("enroll-name")).SendKeys("Fake");
        browser.FindElement(By.Id("enroll-file")).SendKeys(TestImages.DataPath("liveness", "image_F1.jpg"));
        browser.FindElement(By.Id("enroll-go")).Click();
        wait.Until(d => d.FindElement(By.Id("enroll-verdict")).Text.Contains("presentation attack"));
        browser.FindElement(By.Id("enroll-file")).SendKeys(TestImages.DataPath("liveness", "image_T1.jpg"));
        browser.FindElement(By.Id("enroll-go")).Click();
        wait.Until(d => d.FindElement(By.Id("enroll-verdict")).Text.Contains("passed the liveness check"));
    }

    [Fact]
    public async Task The_webcam_picture_goes_through_identification()
    {
        // Chromium's fake camera: a moving test pattern, granted without a prompt; it holds no face
        await using var s = await StartAsync(keys: ("browser", "identify", 1000));
        using var browser = Browser("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream");
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60));
        browser.Navigate().GoToUrl(s.Host.Address + "/");
        browser.FindElement(By.Id("key")).SendKeys(s.Keys["browser"]);
        browser.FindElement(By.Id("camera")).Click();
        wait.Until(d => d.FindElement(By.Id("snap")).Displayed && Convert.ToInt64(((IJavaScriptExecutor)d).ExecuteScript("return document.getElementById('video').videoWidth")) > 0);
        browser.FindElement(By.Id("snap")).Click();
        wait.Until(d => d.FindElement(By.Id("identify-verdict")).Text.Length > 0);
        Assert.Equal("No face found in this photo.", browser.FindElement(By.Id("identify-verdict")).Text);
        Assert.True(browser.FindElement(By.Id("identify-c")).Size.Width > 100); // the picture taken, drawn
    }

    [Fact]
    public async Task The_api_reference_page_renders_the_endpoints_without_the_internet()
    {
        await using var s = await StartAsync(gallery: null);
        using var browser = Browser();
        browser.Navigate().GoToUrl(s.Host.Address + "/docs/");
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60));
        wait.Until(d => d.FindElement(By.TagName("body")).Text.Contains("/v1/verify"));
        Assert.Contains("Verify two photos", browser.FindElement(By.TagName("body")).Text);
        browser.GetScreenshot().SaveAsFile(Path.Combine(Screenshots(), "api-reference.png"));
    }
}
